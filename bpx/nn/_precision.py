"""Mixed precision: the matrix products of the forward and backward pass in a low-precision type,
everything else in the network's dtype.

With ``bpx.MLP(..., precision="bf16")`` or ``"fp16"`` the parameters and the optimizer state stay in
the network's dtype (float32: the master copies); the three products of every layer (Z = A @ W, BP2's
dZ @ Wᵀ and BP3's Aᵀ @ dZ) cast their operands to bfloat16 / float16, multiply, and cast the product
back; bias additions, activations, softmax / log-softmax, the loss and the cost run in float32, as
``torch.autocast`` does for a Linear layer's matmul. bfloat16 has float32's exponent range, so
gradients neither under- nor overflow and no loss scaling is needed. float16 has 3 more mantissa bits
but a range of only 6e-5 .. 65504: ``"fp16"`` training uses dynamic loss scaling
(:mod:`bpx.loss_scaling`, torch.amp's GradScaler scheme: the cost's gradient is multiplied by a scale
S, a step with a non-finite gradient is skipped and S halves, S doubles after ``growth_interval`` good
steps), with the scaler's state in the optimizer's state.

Only libraries with a low-precision type and fast kernels for it offer it: torch and JAX have bfloat16
and float16 (CPU and GPU), CuPy float16 (cuBLAS; there is no bfloat16 in CuPy). NumPy (no bfloat16;
its float16 products are emulated, slower than float32), array-api-strict and Dask are refused before
any work.
"""

from __future__ import annotations

PRECISIONS = {"bf16": "bfloat16", "fp16": "float16"}  # the name a user passes -> the library's dtype attribute
LIBRARIES = {"torch": ("bf16", "fp16"), "jax": ("bf16", "fp16"), "cupy": ("fp16",)}  # what each library offers


def check_precision(precision, dtype):
    """``precision`` as given to :class:`bpx.MLP`: None, or "bf16" / "fp16" with float32 master parameters.

    Raises
    ------
    TypeError, ValueError
        For anything else, naming ``precision`` and what is offered.
    """
    if precision is None:
        return None
    if not isinstance(precision, str):
        raise TypeError(f"precision must be None, 'bf16' or 'fp16', got {precision!r} ({type(precision).__name__})")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be None, 'bf16' or 'fp16', got {precision!r}")
    if dtype != "float32":
        raise ValueError(f"precision={precision!r} keeps float32 master parameters: use dtype='float32', "
                         f"got dtype={dtype!r}")
    return precision


def supports(backend, precision):
    """Whether ``backend``'s library offers ``precision``."""
    return precision in LIBRARIES.get(backend.library.name, ())


def compute_dtype(backend, precision):
    """The library's dtype for ``precision`` (None: none, full precision).

    Raises
    ------
    ValueError
        When the backend's library has no such type (NumPy, array-api-strict, Dask).
    """
    if precision is None:
        return None
    if not supports(backend, precision):
        offered = ", ".join(f"{name} ({'/'.join(p)})" for name, p in LIBRARIES.items())
        raise ValueError(f"precision={precision!r} is not offered on backend {backend.spec!r} (no fast "
                         f"{PRECISIONS[precision]} matrix products there); it is offered on {offered}")
    return getattr(backend.xp, PRECISIONS[precision])
