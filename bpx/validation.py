"""Argument checks shared by every public entry point.

Each check raises ``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind, wrong value)
naming the argument, what was expected and what was given, before any work is done.
"""

from __future__ import annotations

import math
import numbers

from .backend import is_host_data, namespace

FINITE_CHECK_VALUES = 1 << 22  # isfinite runs on this many values at a time: 4 MiB of booleans, whatever X's size


def _is_bool(value):
    return isinstance(value, bool) or type(value).__name__ == "bool_"


def check_int(value, name, minimum=1):
    """An integer (numpy integers too, not bool or 2.0) that is at least ``minimum``."""
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_float(value, name, low=None, high=None, low_open=False, high_open=False):
    """A finite real number within [low, high] (open ends where asked)."""
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    interval = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    bad = not math.isfinite(value)
    if low is not None:
        bad = bad or value < low or (low_open and value == low)
    if high is not None:
        bad = bad or value > high or (high_open and value == high)
    if bad:
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
    return value


def check_bool(value, name):
    if not _is_bool(value):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_layer_sizes(layer_sizes):
    """At least two positive integers: the input width, any hidden widths, the output width."""
    if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__"):
        raise TypeError(
            f"layer_sizes must be a list of integers such as [784, 128, 10], got {layer_sizes!r}"
        )
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError(
            f"layer_sizes needs at least the input and output widths (e.g. [4, 3]), got {sizes!r}"
        )
    for i, size in enumerate(sizes):
        if _is_bool(size) or not isinstance(size, numbers.Integral):
            raise TypeError(f"layer_sizes[{i}] must be a positive integer, got {size!r} ({type(size).__name__})")
        if size < 1:
            raise ValueError(f"layer_sizes[{i}] must be a positive integer, got {size!r}")
    return [int(s) for s in sizes]


def as_matrix(backend, X, name, dtype, n_columns=None, columns="features"):
    """``X`` as a finite 2-D array of ``dtype`` on ``backend``'s device, or a clear error.

    Host data and arrays of the backend are accepted; bool and integer data are cast to ``dtype``.
    One device→host sync checks finiteness, so call this once per public call, never per step.
    """
    if X is None:
        raise TypeError(f"{name} must be an array, got None")
    xp = backend.xp
    A = backend.asarray(X, dtype if is_host_data(X) else None, name=name)
    if not xp.isdtype(A.dtype, ("bool", "integral", "real floating", "complex floating")):
        raise TypeError(f"{name} must hold real numbers, got dtype {A.dtype}")
    if xp.isdtype(A.dtype, "complex floating"):
        raise TypeError(f"{name} must hold real numbers, got complex dtype {A.dtype}")
    if xp.isdtype(A.dtype, "real floating") and A.dtype not in (xp.float32, xp.float64):
        raise TypeError(f"{name} has dtype {A.dtype}; bpx supports float32 and float64 (the array API has no float16)")
    if A.ndim == 1:
        hint = f"{name}.reshape(-1, 1)" if n_columns == 1 else f"{name}.reshape(1, -1)"
        raise ValueError(
            f"{name} must be 2-D (samples, {columns}), got a 1-D array of shape {tuple(A.shape)}; "
            f"use {hint} for a single {'feature' if n_columns == 1 else 'sample'}"
        )
    if A.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples, {columns}), got shape {tuple(A.shape)}")
    if A.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples (shape {tuple(A.shape)})")
    if A.shape[1] == 0:
        raise ValueError(f"{name} has 0 {columns} (shape {tuple(A.shape)})")
    if n_columns is not None and A.shape[1] != n_columns:
        raise ValueError(f"{name} has {A.shape[1]} {columns} per sample, but the network expects {n_columns}")
    A = xp.astype(A, backend.dtype(dtype), copy=False)
    if not all_finite(A):
        raise ValueError(f"{name} contains NaN or infinite values")
    return A


def all_finite(A):
    """Whether the 2-D array ``A`` holds no NaN or infinity, checked ``FINITE_CHECK_VALUES`` values at a time
    (one boolean array as big as ``A`` would cost a quarter of a float32 ``A``); one host sync."""
    xp = namespace(A)
    m = A.shape[0]
    rows = max(1, FINITE_CHECK_VALUES // max(1, A.shape[1]))
    if m <= rows:  # one chunk: no slice (on JAX a slice is one more dispatch)
        return bool(xp.all(xp.isfinite(A)))
    checks = [xp.all(xp.isfinite(A[i:min(i + rows, m), :])) for i in range(0, m, rows)]  # in-bounds stops
    return bool(checks[0] if len(checks) == 1 else xp.all(xp.stack(checks)))
