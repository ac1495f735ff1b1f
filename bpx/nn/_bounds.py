"""Elementwise bounds by a Python float: ``at_least(x, low)`` = max(x, low), ``at_most(x, high)`` =
min(x, high), the same numbers on every backend, and no array made from the scalar on any.

``xp.maximum(x, 0.0)`` is the array API's form, but array-api-compat's torch wrapper turns the Python
scalar into a tensor on the array's device first: on CUDA, a blocking host-to-device copy in every ReLU,
sigmoid and fused cost, every step. Libraries marked ``clamps`` (torch) take ``xp.clip`` with scalar
bounds instead (``torch.clamp``: no tensor made, NaN propagated as ``maximum`` does); the others keep
``maximum``/``minimum``, which is their faster form (docs/development/architecture.md, fast paths).
"""

from __future__ import annotations

from ..backends._backend import clip_ok
from ..backends._backend import namespace as array_namespace


def at_least(x, low):
    """max(x, low) elementwise, ``low`` a Python float."""
    xp = array_namespace(x)
    return xp.clip(x, low, None) if clip_ok(x) else xp.maximum(x, low)


def at_most(x, high):
    """min(x, high) elementwise, ``high`` a Python float."""
    xp = array_namespace(x)
    return xp.clip(x, None, high) if clip_ok(x) else xp.minimum(x, high)
