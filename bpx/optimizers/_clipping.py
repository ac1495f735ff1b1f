"""Gradient clipping, written once for every backend (eager, compiled and lazy alike).

- by global norm (``clip_norm``, as ``torch.nn.utils.clip_grad_norm_``): with
  ‖g‖ = √(Σ_params ‖g_p‖²), every gradient is multiplied by min(1, clip_norm / (‖g‖ + 1e-6));
- by value (``clip_value``, as ``torch.nn.utils.clip_grad_value_``): every entry is clamped to
  [−clip_value, clip_value].

Both are array expressions only (no ``float(x)``, no ``if`` on an array): no host sync, so they run
inside a compiled JAX step and in a Dask graph. :meth:`bpx.Optimizer.update` applies them to the raw
gradients, before weight decay, as torch users call them between ``backward()`` and ``step()``; with
both set, the norm is clipped first, then the values.
"""

from __future__ import annotations

from bpx.backends._backend import namespace
from bpx.utils._validation import check_float

NORM_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_'s: the factor is clip_norm / (‖g‖ + 1e-6)


def check_clip(value, name):
    """None, or a finite number > 0 (``clip_norm`` / ``clip_value``)."""
    return None if value is None else check_float(value, name, low=0.0, low_open=True)


def global_norm(grads):
    """√(Σ_p ‖g_p‖²), the 2-norm of all gradients as one vector (a 0-d array), computed as torch does:
    the norm of the per-parameter norms.

    Parameters
    ----------
    grads : list of arrays
        One gradient per parameter, all of one namespace.

    Returns
    -------
    array
        A 0-d array in the gradients' dtype.
    """
    xp = namespace(grads[0])
    norms = xp.stack([xp.sqrt(xp.sum(g * g)) for g in grads])
    return xp.sqrt(xp.sum(norms * norms))


def clip_by_global_norm(grads, clip_norm):
    """Scale every gradient by min(1, clip_norm / (‖g‖ + 1e-6)), ‖g‖ the global norm.

    Parameters
    ----------
    grads : list of arrays
        One gradient per parameter.
    clip_norm : float
        The largest global norm let through (> 0).

    Returns
    -------
    list of arrays
        New arrays; ``grads`` is not written.
    """
    xp = namespace(grads[0])
    total = global_norm(grads)
    factor = clip_norm / (total + NORM_EPS)
    factor = xp.minimum(factor, xp.ones_like(factor))
    return [g * factor for g in grads]


def clip_by_value(grads, clip_value):
    """Clamp every gradient entry to [−clip_value, clip_value].

    Parameters
    ----------
    grads : list of arrays
        One gradient per parameter.
    clip_value : float
        The largest magnitude let through (> 0).

    Returns
    -------
    list of arrays
        New arrays; ``grads`` is not written.
    """
    xp = namespace(grads[0])
    return [xp.clip(g, -clip_value, clip_value) for g in grads]


def clip_gradients(grads, clip_norm=None, clip_value=None):
    """``grads`` clipped by global norm, then by value (either may be None: not applied)."""
    if clip_norm is not None:
        grads = clip_by_global_norm(grads, clip_norm)
    if clip_value is not None:
        grads = clip_by_value(grads, clip_value)
    return grads
