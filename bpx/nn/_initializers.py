"""Initial weights, drawn on the host so that one seed gives the same network on every backend.

Each initializer takes a host ``numpy.random.Generator`` (from :func:`bpx.backend.host_rng`) and a
layer's fan-in and fan-out, and returns a float64 host array of shape (n_in, n_out) that the network
then moves to its device (DESIGN rule 3). Biases start at zero.
"""

from __future__ import annotations

import math


def lecun(rng, n_in, n_out):
    """The seeds' initialisation: W ~ N(0, 1) / √n_in (the cat classifier tutorial's ``randn / sqrt(n_prev)``).

    Parameters
    ----------
    rng : numpy.random.Generator
        The host random stream (the network's seed).
    n_in, n_out : int
        The layer's fan-in and fan-out.

    Returns
    -------
    numpy.ndarray
        W, (n_in, n_out) float64 on the host."""
    return rng.standard_normal((n_in, n_out)) / math.sqrt(n_in)


def glorot(rng, n_in, n_out):
    """Glorot/Xavier uniform: W ~ U(−l, l) with l = √(6 / (n_in + n_out)).

    Parameters
    ----------
    rng : numpy.random.Generator
        The host random stream (the network's seed).
    n_in, n_out : int
        The layer's fan-in and fan-out.

    Returns
    -------
    numpy.ndarray
        W, (n_in, n_out) float64 on the host."""
    limit = math.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, (n_in, n_out))


def he(rng, n_in, n_out):
    """He/Kaiming normal: W ~ N(0, 1) · √(2 / n_in), for ReLU layers.

    Parameters
    ----------
    rng : numpy.random.Generator
        The host random stream (the network's seed).
    n_in, n_out : int
        The layer's fan-in and fan-out.

    Returns
    -------
    numpy.ndarray
        W, (n_in, n_out) float64 on the host."""
    return rng.standard_normal((n_in, n_out)) * math.sqrt(2.0 / n_in)


INITIALIZERS = {"lecun": lecun, "glorot": glorot, "he": he}


def default_init(activation_name):
    """He for the ReLU family, the seeds' LeCun normal otherwise.

    Parameters
    ----------
    activation_name : str
        The hidden activation.

    Returns
    -------
    str
        ``"he"`` or ``"lecun"``."""
    return "he" if activation_name in ("relu", "leaky_relu") else "lecun"


def get_initializer(name):
    """The initializer called ``name``; a ``ValueError`` listing the valid names otherwise.

    Parameters
    ----------
    name : str
        ``"lecun"``, ``"glorot"`` or ``"he"``.

    Returns
    -------
    callable
        ``init(rng, n_in, n_out) -> W``.

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        If no initializer has that name (the message lists them)."""
    if not isinstance(name, str):
        raise TypeError(f"init must be a string naming an initializer, got {type(name).__name__}")
    try:
        return INITIALIZERS[name]
    except KeyError:
        raise ValueError(f"init={name!r} is not an initializer; expected one of {', '.join(INITIALIZERS)}") from None
