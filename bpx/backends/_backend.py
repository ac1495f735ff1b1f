"""Backend selection: which array library, and which device, a network computes on.

A backend is a value, not a global (DESIGN rule 2). ``get_backend(spec)`` returns a :class:`Backend`
holding the array-API namespace ``xp`` and the ``device``; a network is built on one and keeps it.
The spec is ``name`` or ``name:device``:

=====================  =====================================================================
``numpy``              NumPy on the CPU
``cupy``, ``cupy:1``   CuPy on CUDA device 0 (or the one named)
``jax``                JAX on its default device; ``jax:cpu``, ``jax:gpu`` (``jax:cuda``),
                       ``jax:tpu``, ``jax:gpu:1``; fit compiles whole epochs
``torch``              PyTorch on the CPU; ``torch:cuda`` / ``torch:cuda:1`` on a CUDA GPU
``array_api_strict``   the conformance oracle; ``array_api_strict:device1`` simulates a second
                       device, ``array_api_strict:no_float64`` a device without float64
``auto``               CuPy when a CUDA device is really usable, else NumPy
=====================  =====================================================================

With no spec, ``$BPX_BACKEND`` is used, else ``auto``. What each library needs (probe, device specs,
host transfers, synchronisation, capabilities) lives in its entry of the registry
:mod:`bpx.libraries`; this module turns specs into backends and never branches on a library's name.
It, persistence and host-side data code are the only places in bpx that touch numpy directly; the
math gets ``xp`` from here.
"""

from __future__ import annotations

import contextlib
import functools
import os

import array_api_compat
import numpy as np

from ._libraries import LIBRARIES, DeviceError, Unavailable, library_of

NAMES = tuple(LIBRARIES)
DTYPES = ("float32", "float64")


class Backend:
    """An array library plus a device: ``name``, ``xp`` (array-API namespace), ``device``.

    Made by :func:`get_backend`, not by hand.

    Parameters
    ----------
    library : bpx.libraries.ArrayLibrary
        The registry entry (transfers, synchronisation, capabilities).
    xp : module
        The library's array-API namespace.
    device : object
        The device arrays are made on.
    spec : str
        The spec it was made from (``"torch:cuda"``).
    chosen_by : bpx.backends.FastestChoice, optional
        For a backend picked by ``backend="fastest"``: the record of that choice (which backend, the
        figures, every rejected backend's reason, the cache file); None otherwise."""

    def __init__(self, library, xp, device, spec, chosen_by=None):
        self.library = library  # the registry entry (bpx.libraries): transfers, sync, capabilities
        self.name = library.name
        self.xp = xp
        self.device = device
        self.spec = spec
        self.chosen_by = chosen_by

    def chosen(self, choice):
        """This backend carrying ``choice`` (a :class:`bpx.backends.FastestChoice`) as ``chosen_by``."""
        return Backend(self.library, self.xp, self.device, self.spec, chosen_by=choice)

    @property
    def fastest(self):
        """``chosen_by`` as a dict (None for a backend not picked by ``backend="fastest"``); kept for the
        code written before :class:`bpx.backends.FastestChoice`."""
        return None if self.chosen_by is None else self.chosen_by.as_dict()

    def __repr__(self):
        return f"Backend({self.spec!r})"

    def __reduce__(self):
        """Pickle (and deepcopy) as ``get_backend(spec)`` plus ``chosen_by``: the namespace module itself
        does not pickle."""
        return (get_backend, (self.spec,), {"chosen_by": self.chosen_by} if self.chosen_by is not None else None)

    def __eq__(self, other):
        return isinstance(other, Backend) and (self.name, self.device) == (other.name, other.device)

    def __hash__(self):
        return hash((self.name, str(self.device)))

    # -- dtypes -----------------------------------------------------------------------------------
    def _dtypes(self):
        """The device's ``{name: dtype}``, asked of the library once per backend (every fit and conversion asks)."""
        table = self.__dict__.get("_dtype_table")
        if table is None:
            table = self._dtype_table = self.library.dtypes(self.xp, self.device)
        return table

    def dtype(self, name):
        """The namespace's dtype for ``"float32"``/``"float64"``; a clear error for anything else."""
        name = dtype_name(name)
        supported = self._dtypes()
        if name not in supported:
            raise ValueError(
                f"dtype={name!r} is not supported by backend {self.spec!r} on device {self.device}; "
                f"{self.library.missing_dtype(name)}"
            )
        return supported[name]

    def has_dtype(self, name):
        """Whether this backend's device supports dtype ``name`` (``no_float64`` devices lack float64)."""
        return name in self._dtypes()

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
        obj = self.library.materialize(obj)
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
        return self.library.from_host(xp, host, dt, self.device)

    def transfer(self, host):
        """Move a small host numpy array made per step (packed dropout masks) onto the device, in its own
        dtype, without a host sync where the library allows (``ArrayLibrary.transfer``)."""
        return self.library.transfer(self.xp, host, self.device)

    def quiet_float_errors(self):
        """A context in which overflow/invalid-value warnings are silenced (numpy and cupy warn
        through numpy's error state); ``fit`` checks finiteness itself and raises a clear error."""
        return self.library.float_errors()

    def to_numpy(self, x):
        """Copy one of this backend's arrays to a fresh host numpy array (explicit transfer)."""
        return to_numpy(x)

    def synchronize(self):
        """Wait until the work queued on this backend's device is done (for timing GPU work)."""
        self.library.synchronize(self.device)

    def device_context(self):
        """The context computations on this backend run inside (``ArrayLibrary.device_context``): CuPy's
        current device, JAX's matmul precision; nothing for most libraries."""
        return self.library.device_context(self.device)


def in_device_context(backend, fn):
    """``fn()`` run inside ``backend``'s :meth:`Backend.device_context` (a timed peer, e.g. a GEMM roof,
    computing under the precision bpx computes under)."""

    def run():
        with backend.device_context():
            return fn()

    return run


def on_device(method):
    """Run ``method(self, ...)`` of an object with a ``backend`` (a network) inside its backend's
    :meth:`Backend.device_context`: what fit, the forward pass and prediction are wrapped in."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with self.backend.device_context():
            return method(self, *args, **kwargs)

    return run


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
    """The registered library name of ``x`` ('numpy', 'torch', ...), else its module's name."""
    library = _library(x)
    return library.name if library is not None else type(x).__module__.split(".")[0]


def to_numpy(x):
    """A fresh host ``numpy.ndarray`` holding a copy of ``x`` (any backend's array, a Python scalar or
    a list). Always a copy, on every backend: what it returns never changes when training goes on.

    Parameters
    ----------
    x : array, scalar or list
        An array of any backend bpx knows (or anything ``numpy.array`` takes).

    Returns
    -------
    numpy.ndarray
        A copy on the host.

    Raises
    ------
    TypeError
        For an array of a library that exposes neither a registry entry nor DLPack."""
    if not array_api_compat.is_array_api_obj(x):
        return np.array(x)
    library = _library(x)
    if library is not None:
        return library.to_host(x)
    return np.array(np.from_dlpack(x), copy=True)


# -- fast paths (DESIGN rule 5) -------------------------------------------------------------------
# The math is written once against the standard; where a namespace offers something faster (in-place
# operators on fresh temporaries, array methods that skip a wrapper), the math modules take it behind
# these capability checks and keep the generic path. ``fast_paths(False)`` turns every fast path off,
# which is how the tests prove both paths give the same numbers.
_FAST = {"on": True}
_NAMESPACES = {}
_LIBRARY = {}


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


def _library(x):
    """The registry entry owning ``x`` (or None), remembered per array type."""
    t = type(x)
    if t not in _LIBRARY:
        _LIBRARY[t] = library_of(x)
    return _LIBRARY[t]


_INPLACE, _NDARRAY = {}, {}  # array type -> its library's capability, looked up once per type


def inplace_ok(x):
    """Fast path check: ``x``'s library has in-place operators (``a *= b``, ``a += b``) and bool-float
    arithmetic (numpy, cupy, torch), and fast paths are on. Only ever used on fresh temporaries.
    One dict lookup per call: the math calls it several times per training step."""
    ok = _INPLACE.get(type(x))
    if ok is None:
        ok = _INPLACE[type(x)] = bool(getattr(_library(x), "inplace", False))
    return ok and _FAST["on"]


def ndarray_ok(x):
    """Fast path check: ``x``'s arrays have NumPy's methods (numpy, cupy: ``x.sum(axis=0)`` skips
    array-api-compat's wrapper and computes the very same reduction), and fast paths are on."""
    ok = _NDARRAY.get(type(x))
    if ok is None:
        ok = _NDARRAY[type(x)] = bool(getattr(_library(x), "ndarray", False))
    return ok and _FAST["on"]


_CLAMPS = {}


def clip_ok(x):
    """Fast path check: ``x``'s library clamps with ``clip`` and Python-scalar bounds without making an
    array, where ``maximum``/``minimum`` with a scalar make one per call (torch through array-api-compat:
    a host-to-device copy on CUDA, every step). Elsewhere ``maximum`` is the faster form (array-api-compat's
    ``clip`` for NumPy and CuPy casts and broadcasts its bounds)."""
    ok = _CLAMPS.get(type(x))
    if ok is None:
        ok = _CLAMPS[type(x)] = bool(getattr(_library(x), "clamps", False))
    return ok and _FAST["on"]


def host_rngs(seed, n):
    """``n`` independent host random generators from one seed: all of bpx's randomness comes from
    these (DESIGN rule 3). ``seed=None`` draws fresh entropy."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


# -- probing ---------------------------------------------------------------------------------------
@functools.cache
def probe(name):
    """(namespace module, None) if library ``name`` is usable here, else (None, reason)."""
    try:
        return LIBRARIES[name].load(), None
    except Unavailable as exc:
        return None, str(exc)


def backend_status():
    """``{name: None if usable here else the reason why not}`` for every registered library.

    Returns
    -------
    dict of str to (str or None)
        Each library's name, and None where it is usable here, else the reason why not (not
        installed, no CUDA device, ...)."""
    return {name: probe(name)[1] for name in LIBRARIES}


def available_backends():
    """The backend names usable on this machine, in the registry's order.

    Returns
    -------
    list of str
        The names :func:`get_backend` accepts here (see :func:`backend_status` for the others' reasons)."""
    return [name for name, reason in backend_status().items() if reason is None]


def auto_name():
    """What ``auto`` chooses here: the first usable accelerator library (CuPy on a working CUDA
    device), else NumPy."""
    return next((name for name, lib in LIBRARIES.items() if lib.accelerator and probe(name)[1] is None), "numpy")


def _unusable(spec, why):
    status = backend_status()
    usable = ", ".join(n for n, r in status.items() if r is None)
    others = "; ".join(f"{n}: {r}" for n, r in status.items() if r is not None)
    msg = f"backend {spec!r} {why}. Available here: {usable}."
    if others:
        msg += f" Not available: {others}."
    return ValueError(msg)


def get_backend(name=None):
    """Return the :class:`Backend` for ``name`` (a spec such as ``"torch:cuda"``), ``$BPX_BACKEND``
    when ``name`` is None, else ``"auto"``. A :class:`Backend` passed in is returned as it is.

    Parameters
    ----------
    name : str or Backend, optional
        ``"numpy"``, ``"torch"``, ``"torch:cuda"``, ``"cupy"``, ``"jax"``, ``"jax:gpu"``, ``"dask"``,
        ``"array_api_strict"``, ``"array_api_strict:device1"``, ``"auto"``, ... (``"fastest"`` needs a
        network: pass it to :class:`bpx.MLP`).

    Returns
    -------
    Backend

    Raises
    ------
    TypeError
        For a ``name`` that is neither a string nor a Backend.
    ValueError
        For an unknown or unusable backend, listing what is available here and why each other backend
        is not.
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
    if lib == "fastest":  # a choice timed for one network (bpx.backends.Fastest, which builds on this module)
        raise ValueError(f"backend {spec!r} is timed for a network: pass it to bpx.MLP(backend={spec!r}) "
                         "or run bpx bench --fastest")
    if lib == "auto":
        if device_text:
            raise _unusable(spec, "names a device, but 'auto' chooses its own")
        lib = auto_name()
    if lib not in LIBRARIES:
        raise _unusable(spec, f"is unknown; the names are {', '.join(NAMES + ('auto',))}")
    xp, reason = probe(lib)
    if reason:
        raise _unusable(spec, f"is not usable: {lib}: {reason}")
    library = LIBRARIES[lib]
    try:
        device = library.device(xp, device_text)
    except DeviceError as exc:
        raise _unusable(spec, str(exc)) from None
    return Backend(library, xp, device, f"{lib}:{device_text}" if device_text else lib)
