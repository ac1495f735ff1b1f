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
``device_context``  the context fit, forward/predict and snapshots run inside on a device (CuPy:
                    its ``cupy.cuda.Device``; JAX: the matmul precision, :mod:`bpx.backends._precision`)
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
                    task graphs computed on demand), ``accelerator`` (``auto`` picks it when usable),
                    ``clamps`` (``clip`` with Python-scalar bounds makes no array, while
                    ``maximum``/``minimum`` with a scalar do: array-api-compat's torch wrapper)
==================  ==================================================================================

The registry :data:`LIBRARIES` keeps them in the order ``bpx info`` lists them. These modules are
host-side glue, not math: they may import their library (DESIGN rule 1).
"""

from __future__ import annotations

from ._library import (
    LIBRARIES,
    ArrayLibrary,
    DeviceError,
    Unavailable,
    library_of,
    not_installed,
    numpy_float_errors,
    register,
)

__all__ = ["LIBRARIES", "ArrayLibrary", "DeviceError", "Unavailable", "library_of", "not_installed",
           "numpy_float_errors", "register"]

from ._cupy_library import CuPy  # noqa: E402
from ._dask_library import Dask  # noqa: E402
from ._jax_library import Jax  # noqa: E402
from ._numpy_library import NumPy  # noqa: E402
from ._strict_library import ArrayApiStrict  # noqa: E402
from ._torch_library import Torch  # noqa: E402

# registration order = the order bpx info reports them in
for _entry in (NumPy(), CuPy(), Torch(), ArrayApiStrict(), Jax(), Dask()):
    register(_entry)
