"""What every array-library entry builds on: :class:`ArrayLibrary`, the registry :data:`LIBRARIES`,
:func:`register`, :func:`library_of` and the errors (see :mod:`bpx.libraries` for the protocol).

The entries (``numpy_library``, ...) import from here, and the package imports them, so no module of
the package imports the package itself (no import cycle).
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
    install = ""  # how to install it, e.g. install_hint("torch") (bpx.utils)
    distributions = ()  # PyPI distributions whose versions ``bpx info`` reports
    inplace = False
    ndarray = False
    compiled = False
    lazy = False
    accelerator = False
    clamps = False

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

    def transfer(self, xp, host, device):
        """Move a small per-step host array (dropout masks) onto ``device`` without waiting for the copy
        where the library can (torch:cuda: pinned memory, ``non_blocking``); default: :meth:`from_host`."""
        return self.from_host(xp, host, None, device)

    def synchronize(self, device):
        """Wait until the work queued on ``device`` is done (CPU libraries compute eagerly: nothing)."""

    def float_errors(self):
        return contextlib.nullcontext()

    def device_context(self, device):
        """The context bpx's fit, forward pass, prediction and snapshots run inside on ``device``: where
        the library needs one to make arrays on the right device (CuPy's current device) or to compute
        at the precision bpx promises (JAX's matmul precision). Default: none."""
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
