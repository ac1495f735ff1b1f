"""Array backends: which array library, and which device, a network computes on.

:func:`get_backend` turns a spec (``"numpy"``, ``"torch:cuda"``, ``"jax"``, ...) into a
:class:`Backend`; each array library is one :class:`ArrayLibrary` entry of the registry
:data:`LIBRARIES` (one module per library). Everything above this layer gets its array namespace from
here (docs/development/architecture.md).
"""

from ._backend import (
    NAMES,
    Backend,
    auto_name,
    available_backends,
    backend_status,
    dtype_name,
    fast_paths,
    get_backend,
    host_rngs,
    inplace_ok,
    is_host_data,
    namespace,
    namespace_name,
    ndarray_ok,
    on_device,
    to_numpy,
)
from ._fastest import Fastest, FastestChoice, choose_fastest
from ._libraries import LIBRARIES, ArrayLibrary, DeviceError, Unavailable, register

__all__ = ["NAMES", "LIBRARIES", "ArrayLibrary", "Backend", "DeviceError", "Fastest", "FastestChoice", "Unavailable",
           "auto_name", "available_backends", "backend_status", "choose_fastest", "dtype_name", "fast_paths",
           "get_backend", "host_rngs", "inplace_ok", "is_host_data", "namespace", "namespace_name", "ndarray_ok",
           "on_device", "register", "to_numpy"]
