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


# -- a model's data: X, Y and sample weights as its math takes them ---------------------------------------
def as_inputs(net, X, name="X"):
    """``X`` as ``net``'s checked (m, n_features) device array (:func:`as_matrix`)."""
    return as_matrix(net.backend, X, name, net.dtype, n_columns=net.n_features)


def as_targets(net, Y, m, name="Y"):
    """Targets as an (m, n_out) array of ``net``: 2-D targets as they are; a vector of integer labels is
    one-hot encoded for a softmax output, a vector for a single output unit becomes one column."""
    backend, n_out = net.backend, net.n_outputs
    xp = backend.xp
    if Y is None:
        raise TypeError(f"{name} must be an array of targets, got None")
    raw = backend.asarray(Y, name=name)
    if xp.isdtype(raw.dtype, "bool"):  # true/false labels are classes 1 and 0
        raw = xp.astype(raw, backend.dtype(net.dtype))
    if raw.ndim == 1 and net.output == "softmax":
        Y = one_hot(net, raw, name)
    elif raw.ndim == 1 and n_out == 1:
        Y = as_matrix(backend, xp.reshape(raw, (-1, 1)), name, net.dtype, n_columns=1, columns="outputs")
    else:
        if raw.ndim == 1:
            raise ValueError(
                f"{name} is a vector of shape {tuple(raw.shape)}, but the output layer has {n_out} units; "
                f"pass {name} of shape (m, {n_out})"
            )
        Y = as_matrix(backend, raw, name, net.dtype, n_columns=n_out, columns="outputs")
    if Y.shape[0] != m:
        raise ValueError(f"{name} has {Y.shape[0]} samples but X has {m}")
    return Y


def as_data(net, X, Y):
    """``(X, Y)`` as ``net``'s checked device arrays (:func:`as_inputs`, :func:`as_targets`)."""
    X = as_inputs(net, X)
    return X, as_targets(net, Y, X.shape[0])


def one_hot(net, labels, name):
    """A vector of integer class labels 0..n_out-1 as one-hot rows of ``net``'s dtype."""
    xp, n_out = net.backend.xp, net.n_outputs
    if not xp.isdtype(labels.dtype, ("integral", "real floating")):
        raise TypeError(f"{name} is a vector, so it must hold integer class labels; got dtype {labels.dtype}")
    if labels.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 labels")
    if xp.isdtype(labels.dtype, "real floating"):
        if not bool(xp.all(xp.isfinite(labels))):
            raise ValueError(f"{name} contains NaN or infinite values")
        if not bool(xp.all(labels == xp.round(labels))):
            raise ValueError(f"{name} is a vector, so it must hold integer class labels; it holds fractions")
    lo, hi = int(xp.min(labels)), int(xp.max(labels))
    if lo < 0 or hi >= n_out:
        raise ValueError(
            f"{name} holds class label {lo if lo < 0 else hi}, but the output layer has {n_out} units "
            f"(labels 0..{n_out - 1})"
        )
    classes = xp.arange(n_out, dtype=labels.dtype, device=net.backend.device)
    return xp.astype(xp.reshape(labels, (-1, 1)) == classes, net.array_dtype)


def as_sample_weight(net, w, m):
    """Sample weights as an (m,) device vector of ``net``'s dtype: finite, >= 0, not all zero."""
    backend = net.backend
    xp = backend.xp
    w = backend.asarray(w, name="sample_weight")
    if w.ndim != 1 or w.shape[0] != m:
        raise ValueError(f"sample_weight must be a vector of {m} weights (one per sample), got shape {tuple(w.shape)}")
    if not xp.isdtype(w.dtype, ("real floating", "integral")):
        raise TypeError(f"sample_weight must hold real numbers, got dtype {w.dtype}")
    w = xp.astype(w, net.array_dtype)
    ok = xp.stack([xp.all(xp.isfinite(w)), xp.all(w >= 0.0), xp.any(w > 0.0)])
    finite, nonneg, some = (bool(v) for v in backend.to_numpy(ok))
    if not (finite and nonneg and some):
        raise ValueError("sample_weight must be finite and >= 0 with at least one weight > 0")
    return w
