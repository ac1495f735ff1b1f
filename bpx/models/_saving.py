"""Loading a model file into a network: :func:`bpx.load`.

The file format (arrays plus a JSON header, never pickle), :func:`bpx.save` and the checks of what is
read live in :mod:`bpx.io` (below the models: it knows no model class); this module builds the
:class:`MLP` the header describes, through :meth:`MLP.from_config` (docs/development/architecture.md).
"""

from __future__ import annotations

import os

from ..backends._backend import get_backend
from ..backends._fastest import is_fastest
from ..io._persistence import ModelFileError, read
from ..nn._activations import ACTIVATIONS, OUTPUT_ONLY
from ..nn._precision import PRECISIONS, supports
from ._mlp import CONFIG_KEYS, MLP


def load(path, backend=None):
    """Read a model written by :func:`save` onto ``backend`` (any backend, whatever it was saved on).

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`bpx.save`.
    backend : str or bpx.Backend, optional
        Where to put the network (any spec of :func:`bpx.get_backend`); default ``$BPX_BACKEND``,
        else ``auto``.

    Returns
    -------
    bpx.MLP
        The network, with its class names and ``metadata``.

    Raises
    ------
    bpx.ModelFileError
        (a ``ValueError``) naming ``path``, for a missing, empty, truncated, corrupted (checksum),
        foreign, pickled, newer-format, wrongly shaped or NaN-holding file, or one naming an
        activation that is not registered in this session.
    TypeError
        If ``path`` is not a path."""
    header, arrays = read(path)
    backend = (os.environ.get("BPX_BACKEND") or None) if backend is None else backend
    if not is_fastest(backend):  # "fastest": bpx.MLP times the saved network itself
        backend = get_backend(backend)
        if header["dtype"] in ("float32", "float64"):
            backend.dtype(header["dtype"])  # a float64 model on a float32-only device: the device's error
    for key in ("activation", "output"):
        _check_registered(path, key, header[key])
    # files written before bias, dropout, precision existed: every layer had a bias, no dropout, full precision
    config = {key: header.get(key) for key in CONFIG_KEYS}
    config.update(dropout=header.get("dropout", 0.0), precision=_precision(header.get("precision"), backend))
    try:
        net = MLP.from_config(config, backend=backend)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(path, f"the header describes no valid network ({exc})") from None
    net.set_params(arrays)
    classes = header.get("classes")
    if classes is not None:
        if not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
            raise ModelFileError(path, f"malformed class names {classes!r}")
        net.classes = classes
    metadata = header.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ModelFileError(path, f"malformed metadata {metadata!r}")
    net.metadata = metadata
    return net


def _precision(precision, backend):
    """A saved mixed-precision setting, kept where ``backend`` offers it (elsewhere the network computes in
    its master dtype); an unknown one is left for MLP to refuse."""
    if precision in PRECISIONS and not is_fastest(backend) and not supports(backend, precision):
        return None
    return precision


def _check_registered(path, key, name):
    if name not in ACTIVATIONS and not (key == "output" and name in OUTPUT_ONLY):
        which = "hidden" if key == "activation" else key
        raise ModelFileError(
            path, f"the model's {which} activation {name!r} is not registered in this session; register it "
            f"first with bpx.activation({name!r}, forward, derivative) (the same functions it was trained with), "
            f"then load. Registered: {', '.join(ACTIVATIONS)}")
