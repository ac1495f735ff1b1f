"""The array libraries bpx runs on: one module per library, each one :class:`ArrayLibrary` entry.

An entry says everything bpx needs to know about a library, so that adding a library is adding a
module here, never a branch in an ``if name == ...`` chain:

==================  ==================================================================================
``load()``          import it and return its array-API namespace, or raise :class:`Unavailable` with
                    the reason (not installed, no usable device, ...)
``device()``        turn the text after ``name:`` in a backend spec into the library's device object
``devices()``       the devices it sees, as text (for ``bpx info``)
``owns()``          whether an object is one of its arrays (without importing the library)
``from_host()``     move a host NumPy array onto a device (the only host-to-device path)
``to_host()``       copy one of its arrays into a fresh host NumPy array (never a view)
``synchronize()``   wait for queued device work (GPU timing)
``float_errors()``  a context silencing its overflow warnings (fit checks finiteness itself)
``settings()``      numerics settings worth reporting (TF32, x64, ...), for ``bpx info``; must work
                    (return ``{}``) when the library is not installed
``dtypes()``        the device's dtypes by name (default: the namespace's ``__array_namespace_info__``)
``missing_dtype``   what to tell a user asking for a dtype the device lacks (JAX: how to turn on x64)
``materialize()``   what a backend of this library makes of an array it does not own before refusing
                    it (default: nothing; dask computes a dask array given to its eager paths, e.g.
                    ``set_params`` or a gradient check, into a host array)
capabilities        ``inplace`` (in-place operators on fresh temporaries), ``ndarray`` (NumPy-style
                    array methods), ``compiled`` (fit compiles whole epochs; the entry then has
                    ``jit``, ``scan`` and ``block``, see :mod:`bpx.step`), ``lazy`` (arrays are
                    task graphs computed on demand), ``accelerator`` (``auto`` picks it when usable)
==================  ==================================================================================

The registry :data:`LIBRARIES` keeps them in the order ``bpx info`` lists them. These modules are
host-side glue, not math: they may import their library (DESIGN rule 1).
"""

from __future__ import annotations

import contextlib

import numpy as np


class Unavailable(Exception):
    """A library cannot be used here; ``str(exc)`` says why."""


class DeviceError(ValueError):
    """A backend spec names a device the library does not have; ``str(exc)`` says why."""


class ArrayLibrary:
    """One array library as bpx sees it. Subclasses override what differs from these defaults."""

    name = ""
    install = ""  # how to install it, e.g. "pip install 'bpx[torch]'"
    distributions = ()  # PyPI distributions whose versions ``bpx info`` reports
    inplace = False
    ndarray = False
    compiled = False
    lazy = False
    accelerator = False

    def load(self):
        raise NotImplementedError

    def device(self, xp, text):
        raise NotImplementedError

    def devices(self, xp):
        return []

    def owns(self, x):
        raise NotImplementedError

    def from_host(self, xp, host, dtype, device):
        return xp.asarray(host, dtype=dtype, device=device)

    def to_host(self, x):
        return np.array(np.from_dlpack(x), copy=True)

    def synchronize(self, device):
        """Wait until the work queued on ``device`` is done (CPU libraries compute eagerly: nothing)."""

    def float_errors(self):
        return contextlib.nullcontext()

    def settings(self):
        return {}

    def dtypes(self, xp, device):
        """``{name: dtype}`` of the dtypes ``device`` supports (the array API's inspection call)."""
        return xp.__array_namespace_info__().dtypes(device=device)

    def missing_dtype(self, name):
        """The advice in the error for a dtype ``name`` the device does not have."""
        return "use dtype='float32'"

    def materialize(self, x):
        return x

    def __repr__(self):
        return f"<array library {self.name!r}>"


def numpy_float_errors():
    """NumPy's error state, which NumPy, CuPy and array-api-strict all warn through."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")


def not_installed(library):
    return Unavailable(f"not installed ({library.install})")


LIBRARIES = {}


def register(library):
    """Add ``library`` (an :class:`ArrayLibrary` instance) to the registry; returns it."""
    LIBRARIES[library.name] = library
    return library


def library_of(x):
    """The registered library owning array ``x``, or None."""
    return next((lib for lib in LIBRARIES.values() if lib.owns(x)), None)


from . import numpy_library, cupy_library, torch_library, strict_library, jax_library, dask_library  # noqa: E402,F401,I001  (registration order = report order)
