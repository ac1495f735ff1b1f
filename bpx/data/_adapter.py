"""The data adapter: what a model is given (host data or an array of its backend) turned into the
checked 2-D array of the model's dtype on its device, with one clear error for anything else.

Every entry point that takes X or Y goes through :func:`as_matrix`; one device->host sync checks
finiteness, so it runs once per public call, never per step.
"""

from __future__ import annotations

from ..backends._backend import is_host_data, namespace

FINITE_CHECK_VALUES = 1 << 22  # isfinite runs on this many values at a time: 4 MiB of booleans, whatever X's size


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
