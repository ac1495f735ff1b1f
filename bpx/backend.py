"""Backend selection: which array library, and which device, a network computes on.

A backend is a value, not a global (DESIGN rule 2). ``get_backend(spec)`` returns a :class:`Backend`
holding the array-API namespace ``xp`` and the ``device``; a network is built on one and keeps it.
The spec is ``name`` or ``name:device``:

=====================  =====================================================================
``numpy``              NumPy on the CPU
``cupy``, ``cupy:1``   CuPy on CUDA device 0 (or the one named)
``torch``              PyTorch on the CPU; ``torch:cuda`` / ``torch:cuda:1`` on a CUDA GPU
``array_api_strict``   the conformance oracle; ``array_api_strict:device1`` simulates a second
                       device, ``array_api_strict:no_float64`` a device without float64
``auto``               CuPy when a CUDA device is really usable, else NumPy
=====================  =====================================================================

With no spec, ``$BPX_BACKEND`` is used, else ``auto``. This module, persistence and host-side data
code are the only places in bpx that touch numpy directly; the math gets ``xp`` from here.
"""

from __future__ import annotations

import contextlib
import functools
import os

import array_api_compat
import numpy as np

NAMES = ("numpy", "cupy", "torch", "array_api_strict")
DTYPES = ("float32", "float64")

_INSTALL_HINT = {
    "cupy": "pip install 'bpx[cupy]' (cupy-cuda12x)",
    "torch": "pip install 'bpx[torch]'",
    "array_api_strict": "pip install 'bpx[strict]'",
}


class Backend:
    """An array library plus a device: ``name``, ``xp`` (array-API namespace), ``device``."""

    def __init__(self, name, xp, device, spec):
        self.name = name
        self.xp = xp
        self.device = device
        self.spec = spec

    def __repr__(self):
        return f"Backend({self.spec!r})"

    def __reduce__(self):
        """Pickle (and deepcopy) as ``get_backend(spec)``: the namespace module itself does not pickle."""
        return (get_backend, (self.spec,))

    def __eq__(self, other):
        return isinstance(other, Backend) and (self.name, self.device) == (other.name, other.device)

    def __hash__(self):
        return hash((self.name, str(self.device)))

    # -- dtypes -----------------------------------------------------------------------------------
    def dtype(self, name):
        """The namespace's dtype for ``"float32"``/``"float64"``; a clear error for anything else."""
        name = dtype_name(name)
        supported = self.xp.__array_namespace_info__().dtypes(device=self.device)
        if name not in supported:
            raise ValueError(
                f"dtype={name!r} is not supported by backend {self.spec!r} on device {self.device}; "
                f"use dtype='float32'"
            )
        return supported[name]

    def has_dtype(self, name):
        """Whether this backend's device supports dtype ``name`` (``no_float64`` devices lack float64)."""
        return name in _dtypes(self)

    # -- moving data ------------------------------------------------------------------------------
    def owns(self, x):
        """True when ``x`` is an array of this backend's namespace (on any of its devices)."""
        return array_api_compat.is_array_api_obj(x) and array_api_compat.array_namespace(x) is self.xp

    def asarray(self, obj, dtype=None, name="array"):
        """Move host data (numpy arrays, lists, scalars) onto this backend's device.

        Arrays already of this backend stay where they are (cast to ``dtype`` if needed); an array on
        another device of this library, or of another array library, is refused with a ``ValueError``
        naming both sides, never converted behind your back (use :func:`bpx.to_numpy` explicitly).
        """
        xp = self.xp
        dt = None if dtype is None else self.dtype(dtype)
        host_data = is_host_data(obj)
        if self.owns(obj) and not host_data:
            where = array_api_compat.device(obj)
            if where != self.device:
                raise ValueError(
                    f"{name} is on device {where} but backend {self.spec!r} is on {self.device}; "
                    f"move it explicitly (bpx.to_numpy(x), or x.to_device(...))"
                )
            return obj if dt is None or obj.dtype == dt else xp.astype(obj, dt)
        if not host_data:
            raise TypeError(
                f"{name} is a {namespace_name(obj)} array but the backend is {self.spec!r}; "
                f"convert it explicitly with bpx.to_numpy(x) or build the network on that backend"
            )
        host = np.asarray(obj)
        if host.dtype.kind not in "biuf" or host.dtype == np.float16:
            raise TypeError(
                f"{name} must hold real numbers (bool, int, float32 or float64), got dtype {host.dtype}"
                + (": the array API standard has no float16" if host.dtype == np.float16 else "")
            )
        if dt is None and host.dtype == np.float64 and not self.has_dtype("float64"):
            dt = self.dtype("float32")
        if dt is not None:  # cast on the host: only the final dtype's bytes travel to the device
            with np.errstate(over="ignore"):  # values beyond float32 become inf: refused by the caller's check
                host = host.astype(dtype_name(dtype or "float32"), copy=False)
        if self.name == "cupy":
            with self.device:
                return xp.asarray(host, dtype=dt)
        if self.name == "torch" and not host.flags.writeable:
            host = host.copy()  # torch cannot wrap read-only memory (it warns); a copy keeps the caller's array safe
        return xp.asarray(host, dtype=dt, device=self.device)

    def quiet_float_errors(self):
        """A context in which overflow/invalid-value warnings are silenced (numpy and cupy warn
        through numpy's error state); ``fit`` checks finiteness itself and raises a clear error."""
        if self.name in ("numpy", "cupy", "array_api_strict"):
            return np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")
        return contextlib.nullcontext()

    def to_numpy(self, x):
        """Copy one of this backend's arrays to a host numpy array (explicit transfer)."""
        return to_numpy(x)


def _dtypes(backend):
    return backend.xp.__array_namespace_info__().dtypes(device=backend.device)


def is_host_data(x):
    """True for numpy arrays, Python scalars and lists: data that lives on the host."""
    return array_api_compat.is_numpy_array(x) or not array_api_compat.is_array_api_obj(x)


def dtype_name(dtype):
    """Normalise a dtype spec (``"float32"``, ``np.float64``, ``torch.float32``, ...) to its name."""
    text = str(getattr(dtype, "name", dtype)).rsplit(".", 1)[-1]
    if text in DTYPES:
        return text
    if "float16" in text:
        raise TypeError(
            f"dtype={text!r} is not supported: the array API standard has no float16; "
            f"use 'float32' or 'float64'"
        )
    raise TypeError(f"dtype must be 'float32' or 'float64', got {dtype!r}")


def namespace_name(x):
    """'numpy', 'torch', 'cupy', 'array_api_strict' or the module name of ``x``'s namespace."""
    if array_api_compat.is_numpy_array(x):
        return "numpy"
    if array_api_compat.is_torch_array(x):
        return "torch"
    if array_api_compat.is_cupy_array(x):
        return "cupy"
    return type(x).__module__.split(".")[0]


def to_numpy(x):
    """Copy any backend's array (or a Python scalar/list) to a host ``numpy.ndarray``."""
    if array_api_compat.is_numpy_array(x) or not array_api_compat.is_array_api_obj(x):
        return np.asarray(x)
    if array_api_compat.is_cupy_array(x):
        return x.get()
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    xp = array_api_compat.array_namespace(x)
    if array_api_compat.is_array_api_strict_namespace(xp):
        return np.asarray(x.to_device(xp.Device("CPU_DEVICE")))
    return np.from_dlpack(x)


# -- fast paths (DESIGN rule 5) -------------------------------------------------------------------
# The math is written once against the standard; where a namespace offers something faster (in-place
# operators on fresh temporaries, array methods that skip a wrapper), the math modules take it behind
# these capability checks and keep the generic path. ``fast_paths(False)`` turns every fast path off,
# which is how the tests prove both paths give the same numbers.
_FAST = {"on": True}
_NAMESPACES = {}
_KINDS = {}


@contextlib.contextmanager
def fast_paths(enabled=True):
    """Within this context the fast paths are on (the default) or off (the generic array-API path only)."""
    before = _FAST["on"]
    _FAST["on"] = bool(enabled)
    try:
        yield
    finally:
        _FAST["on"] = before


def namespace(x):
    """``array_api_compat.array_namespace(x)``, remembered per array type (the lookup costs ~10 µs, a
    whole step of a tiny network ~50)."""
    kind = type(x)
    xp = _NAMESPACES.get(kind)
    if xp is None:
        xp = _NAMESPACES[kind] = array_api_compat.array_namespace(x)
    return xp


def _kind(x):
    """'numpy', 'cupy', 'torch' or None (any other namespace), remembered per array type."""
    t = type(x)
    if t not in _KINDS:
        _KINDS[t] = ("numpy" if array_api_compat.is_numpy_array(x) else "cupy" if array_api_compat.is_cupy_array(x)
                     else "torch" if array_api_compat.is_torch_array(x) else None)
    return _KINDS[t]


def inplace_ok(x):
    """Fast path check: ``x``'s library has in-place operators (``a *= b``, ``a += b``) and bool-float
    arithmetic (numpy, cupy, torch), and fast paths are on. Only ever used on fresh temporaries."""
    kind = _KINDS.get(type(x), False)
    return _FAST["on"] and (kind if kind is not False else _kind(x)) is not None


def ndarray_ok(x):
    """Fast path check: ``x`` is a numpy or cupy array (ndarray methods such as ``x.sum(axis=0)``, which
    skip array-api-compat's wrapper and compute the very same reduction), and fast paths are on."""
    return _FAST["on"] and _kind(x) in ("numpy", "cupy")


def host_rngs(seed, n):
    """``n`` independent host random generators from one seed: all of bpx's randomness comes from
    these (DESIGN rule 3). ``seed=None`` draws fresh entropy."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


# -- probing ---------------------------------------------------------------------------------------
@functools.cache
def _probe(name):
    """(namespace module, None) if ``name`` is usable here, else (None, reason)."""
    if name == "numpy":
        import array_api_compat.numpy as xp

        return xp, None
    if name == "array_api_strict":
        try:
            import array_api_strict as xp
        except ImportError:
            return None, f"not installed ({_INSTALL_HINT[name]})"
        return xp, None
    if name == "torch":
        try:
            import array_api_compat.torch as xp
        except ImportError:
            return None, f"not installed ({_INSTALL_HINT[name]})"
        return xp, None
    if name == "cupy":
        try:
            import cupy
        except ImportError:
            return None, f"not installed ({_INSTALL_HINT[name]})"
        except Exception as exc:  # a broken install raises all sorts of things at import
            return None, f"import failed: {type(exc).__name__}: {exc}"
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:
            return None, f"no usable CUDA driver ({type(exc).__name__}: {exc})"
        if count == 0:
            return None, "no CUDA device found"
        try:
            (cupy.arange(4, dtype=cupy.float32) @ cupy.ones(4, dtype=cupy.float32)).get()
        except Exception as exc:
            return None, f"CUDA device present but unusable ({type(exc).__name__}: {exc})"
        import array_api_compat.cupy as xp

        return xp, None
    raise AssertionError(name)


def backend_status():
    """``{name: None if usable here else the reason why not}`` for every backend name."""
    return {name: _probe(name)[1] for name in NAMES}


def available_backends():
    """The backend names usable on this machine, in the order of :data:`NAMES`."""
    return [name for name, reason in backend_status().items() if reason is None]


def _unusable(spec, why):
    status = backend_status()
    usable = ", ".join(n for n, r in status.items() if r is None)
    others = "; ".join(f"{n}: {r}" for n, r in status.items() if r is not None)
    msg = f"backend {spec!r} {why}. Available here: {usable}."
    if others:
        msg += f" Not available: {others}."
    return ValueError(msg)


def _device(name, xp, device_text, spec):
    """Turn the text after ``name:`` into the namespace's device object."""
    if name == "numpy":
        if device_text not in (None, "cpu"):
            raise _unusable(spec, "names a device numpy does not have (numpy has only 'cpu')")
        return "cpu"
    if name == "array_api_strict":
        devices = {_strict_name(d): d for d in xp.__array_namespace_info__().devices()}
        text = device_text or "CPU_DEVICE"
        if text not in devices:
            raise _unusable(spec, f"names an unknown array_api_strict device; known: {', '.join(devices)}")
        return devices[text]
    if name == "torch":
        import torch

        text = device_text or "cpu"
        try:
            dev = torch.device(text)
        except RuntimeError as exc:
            raise _unusable(spec, f"names an invalid torch device ({exc})") from None
        if dev.type == "cuda":
            if not torch.cuda.is_available():
                raise _unusable(spec, "is not usable: torch has no CUDA device (torch.cuda.is_available() is False)")
            index = dev.index if dev.index is not None else torch.cuda.current_device()
            if index >= torch.cuda.device_count():
                raise _unusable(spec, f"names CUDA device {index}, but torch sees {torch.cuda.device_count()}")
            return torch.device("cuda", index)
        if dev.type != "cpu":
            raise _unusable(spec, f"names torch device type {dev.type!r}; bpx supports 'cpu' and 'cuda'")
        return dev
    if name == "cupy":
        import cupy

        try:
            index = int(device_text or 0)
        except ValueError:
            raise _unusable(spec, "names a CuPy device that is not an integer index") from None
        count = cupy.cuda.runtime.getDeviceCount()
        if not 0 <= index < count:
            raise _unusable(spec, f"names CUDA device {index}, but CuPy sees {count}")
        return cupy.cuda.Device(index)
    raise AssertionError(name)


def _strict_name(device):
    """'device1' for array_api_strict.Device('device1')."""
    text = repr(device)
    return text.split("'")[1] if "'" in text else text


def get_backend(name=None):
    """Return the :class:`Backend` for ``name`` (a spec such as ``"torch:cuda"``), ``$BPX_BACKEND``
    when ``name`` is None, else ``"auto"``. A :class:`Backend` passed in is returned as it is.

    Raises ``ValueError`` for an unknown or unusable backend, listing what is available here and why
    each other backend is not.
    """
    if isinstance(name, Backend):
        return name
    if name is None:
        name = os.environ.get("BPX_BACKEND") or "auto"
    if not isinstance(name, str):
        raise TypeError(f"backend must be a backend name such as 'numpy' or a bpx.Backend, got {name!r}")
    spec = name.strip()
    lib, _, device_text = spec.partition(":")
    lib = lib.strip().lower().replace("-", "_")
    device_text = device_text.strip() or None
    if lib == "auto":
        if device_text:
            raise _unusable(spec, "names a device, but 'auto' chooses its own")
        lib = "cupy" if _probe("cupy")[1] is None else "numpy"
    if lib not in NAMES:
        raise _unusable(spec, f"is unknown; the names are {', '.join(NAMES + ('auto',))}")
    xp, reason = _probe(lib)
    if reason:
        raise _unusable(spec, f"is not usable: {lib}: {reason}")
    device = _device(lib, xp, device_text, spec)
    return Backend(lib, xp, device, f"{lib}:{device_text}" if device_text else lib)
