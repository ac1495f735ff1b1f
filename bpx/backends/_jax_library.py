"""JAX (``jax``, ``jax:cpu``, ``jax:gpu`` / ``jax:cuda``, ``jax:tpu``, ``jax:gpu:1``): ``jax.numpy`` is an
array-API namespace, and JAX compiles. Its arrays are immutable (no in-place fast paths), and ``fit``
compiles whole epochs (``compiled``): see :mod:`bpx.step`.

float64 needs JAX's x64 mode, a switch for the whole process. bpx never flips it: without it the jax
backend is a device without float64, and asking for float64 says how to turn it on.

Matrix products run at the highest precision unless the user opts in to TF32 (``BPX_TF32=1``,
:mod:`bpx.backends._matmul_precision`): JAX's own default is TF32 on recent GPUs.

Before JAX starts its GPU client (the first probe), the entry sets two environment variables the user
has not set (docs/gpu.md): ``XLA_PYTHON_CLIENT_PREALLOCATE=false``, so JAX does not take 75% of the
GPU's memory next to CuPy or PyTorch in the same process, and ``--xla_gpu_deterministic_ops=true`` in
``XLA_FLAGS``, so a run resumed from a checkpoint in another process ends bit for bit where an
uninterrupted run ends (the autotuner may otherwise pick other GEMM kernels in the second compilation).
Both act only on GPUs; both are read once, when JAX's backend starts.
"""

from __future__ import annotations

import contextlib
import os
import sys

import numpy as np

from ..utils._extras import install_hint
from ._library import ArrayLibrary, DeviceError, Unavailable, not_installed
from ._matmul_precision import jax_precision

X64_HINT = "JAX has float64 only in x64 mode: set JAX_ENABLE_X64=1 or call jax.config.update('jax_enable_x64', True) " \
           "before creating arrays"
PLATFORMS = ("cpu", "gpu", "cuda", "rocm", "tpu")
DETERMINISTIC = "--xla_gpu_deterministic_ops=true"


def gpu_environment(environ=None):
    """Set, where the user has not, what bpx's JAX needs on a GPU (see the module docstring):
    ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` and ``--xla_gpu_deterministic_ops=true`` in ``XLA_FLAGS``
    (a user's own ``--xla_gpu_deterministic_ops=...`` is kept). Returns what it set."""
    environ = os.environ if environ is None else environ
    changed = {}
    if "XLA_PYTHON_CLIENT_PREALLOCATE" not in environ:
        changed["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    flags = environ.get("XLA_FLAGS", "")
    if "xla_gpu_deterministic_ops" not in flags:
        changed["XLA_FLAGS"] = f"{flags} {DETERMINISTIC}".strip()
    environ.update(changed)
    return changed


class Jax(ArrayLibrary):
    name = "jax"
    install = install_hint("jax")
    distributions = ("jax", "jaxlib")
    compiled = True

    def load(self):
        gpu_environment()  # before JAX's backend starts (it reads both once)
        try:
            import jax
            import jax.numpy as jnp
        except ImportError:
            raise not_installed(self) from None
        except Exception as exc:  # a broken install raises all sorts of things at import
            raise Unavailable(f"import failed: {type(exc).__name__}: {exc}") from None
        try:
            jax.devices()
        except Exception as exc:
            raise Unavailable(f"jax sees no device ({type(exc).__name__}: {exc})") from None
        return jnp

    def device(self, xp, text):
        """'' -> jax's default device; 'cpu', 'gpu' (= 'cuda'), 'tpu' -> that platform's first device;
        'gpu:1' -> its second; a bare integer -> that device of the default platform."""
        import jax

        platform, _, index = (text or "").partition(":")
        if platform.isdigit() and not index:
            platform, index = "", platform
        if platform and platform not in PLATFORMS:
            raise DeviceError(f"names jax platform {platform!r}; expected one of {', '.join(PLATFORMS)} "
                              f"(optionally with ':<index>')")
        try:
            found = jax.devices(platform or None)
        except RuntimeError as exc:
            raise DeviceError(f"is not usable: jax has no {platform} device ({str(exc)[:160]}); jax sees "
                              f"{', '.join(map(str, jax.devices()))}") from None
        try:
            position = int(index or 0)
        except ValueError:
            raise DeviceError(f"names jax device index {index!r}, which is not an integer") from None
        if not 0 <= position < len(found):
            raise DeviceError(f"names {platform or 'default'} device {position}, but jax sees {len(found)}")
        return found[position]

    def devices(self, xp):
        import jax

        return [f"{d.platform}:{d.id} ({d.device_kind})" for d in jax.devices()] + \
            ([] if jax.default_backend() == "cpu" else [f"cpu:{d.id}" for d in jax.devices("cpu")])

    def owns(self, x):
        if "jax" not in sys.modules:
            return False
        import jax

        return isinstance(x, jax.Array)  # tracers too, inside a compiled function

    def dtypes(self, xp, device):
        """The floating dtypes bpx uses, from the x64 switch (jax's own inspection call builds its whole
        table each time: ~0.6 ms, twice per ``fit``)."""
        return {"float32": np.dtype("float32"), **({"float64": np.dtype("float64")} if _x64() else {})}

    def missing_dtype(self, name):
        return X64_HINT if name == "float64" else super().missing_dtype(name)

    def from_host(self, xp, host, dtype, device):
        import jax

        if dtype is None and host.dtype.itemsize == 8 and not _x64():
            # without x64 jax would truncate 64-bit data itself (with a warning): do it here, explicitly,
            # and refuse integers that do not fit
            if host.dtype.kind in "iu" and host.size and (host.min() < -2**31 or host.max() >= 2**31):
                raise ValueError(f"integer data beyond int32 needs JAX's x64 mode ({X64_HINT})")
            host = host.astype({"i": np.int32, "u": np.uint32, "f": np.float32}[host.dtype.kind])
        elif dtype is not None:
            host = host.astype(dtype, copy=False)
        return jax.device_put(host, device)

    def to_host(self, x):
        return np.array(x, copy=True)

    def synchronize(self, device):
        """JAX dispatches asynchronously: a tiny computation on ``device``, blocked on, runs after the
        work already queued there."""
        import jax

        jax.block_until_ready(jax.device_put(np.zeros((), np.float32), device) + 1.0)

    def block(self, tree):
        """Wait until the arrays of ``tree`` are computed."""
        import jax

        return jax.block_until_ready(tree)

    def jit(self, fn, donate_argnums=(), static_argnums=()):
        """``fn`` compiled (one compilation per input shape and dtype, and per value of the
        ``static_argnums``); the arguments at ``donate_argnums`` may be overwritten."""
        import jax

        def traced(*args):  # the precision rule is traced into the program itself
            with jax.default_matmul_precision(jax_precision()):
                return fn(*args)

        return jax.jit(traced, donate_argnums=donate_argnums, static_argnums=static_argnums)

    def device_context(self, device):
        """The matmul precision bpx promises (``"highest"`` unless ``BPX_TF32=1``) for the eager calls
        of a fit, forward pass or prediction (the compiled ones carry it already, :meth:`jit`)."""
        try:
            import jax
        except ImportError:
            return contextlib.nullcontext()
        return jax.default_matmul_precision(jax_precision())

    def scan(self, body, carry, xs):
        """``lax.scan``: ``body(carry, x) -> (carry, y)`` over the leading axis of ``xs``, compiled as one loop."""
        from jax import lax

        return lax.scan(body, carry, xs)

    def settings(self):
        try:
            x64 = _x64()
        except ImportError:
            return {}
        return {"jax_enable_x64 (float64 on jax)": x64, "jax matmul precision inside bpx": jax_precision()}


def _x64():
    import jax

    return bool(jax.config.jax_enable_x64)

