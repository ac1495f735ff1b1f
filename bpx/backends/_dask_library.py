"""Dask arrays (``dask``): the same backprop, data-parallel over the row chunks of a dask array.

The data (X, Y) are ``dask.array`` arrays chunked by rows, computed where they live: on a
``dask.distributed`` cluster when a ``Client`` is active, else on Dask's local scheduler. The
parameters stay small host NumPy arrays (moved into each chunk's library inside the task, so CuPy
chunks under dask-cuda work too): ``load()`` returns the *parameter* namespace (NumPy's), and
:mod:`bpx.distributed` runs ``fit``/``forward``/``predict``/``evaluate`` on dask arrays, one graph
execution per step. Host data given to a dask network is computed on the host, except in ``fit``,
which chunks it by rows (``bpx.distributed.as_dask``) and trains through Dask.
"""

from __future__ import annotations

import array_api_compat

from ..utils._extras import install_hint
from ._library import ArrayLibrary, DeviceError, Unavailable, library_of, numpy_float_errors


class Dask(ArrayLibrary):
    name = "dask"
    install = install_hint("dask")
    distributions = ("dask", "distributed")
    lazy = True  # dask arrays are task graphs: fit/forward/predict/evaluate run through bpx.distributed
    # inplace/ndarray stay False: they describe dask arrays; the parameters are NumPy's (its fast paths apply)

    def load(self):
        try:
            import dask.array  # noqa: F401
        except ImportError:
            raise Unavailable(f"not installed ({self.install}: dask[array])") from None
        except Exception as exc:  # a broken install raises all sorts of things at import
            raise Unavailable(f"import failed: {type(exc).__name__}: {exc}") from None
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise Unavailable(f"dask.distributed is not installed ({self.install})") from None
        import array_api_compat.numpy as xp

        return xp  # the parameters' namespace; the data's is array_api_compat.dask.array

    def device(self, xp, text):
        if text not in (None, "cpu"):
            raise DeviceError("names a device; dask's parameters live on the host ('cpu'): the chunks' library "
                              "(NumPy, or CuPy under dask-cuda) decides where the work runs")
        return "cpu"

    def devices(self, xp):
        return ["cpu (parameters); chunks: wherever the scheduler runs them"]

    def owns(self, x):
        return array_api_compat.is_dask_array(x)

    def from_host(self, xp, host, dtype, device):
        return xp.asarray(host, dtype=dtype)

    def to_host(self, x):
        import numpy as np

        chunks = x.compute()  # computes the graph; then a fresh host array whatever the chunks' library
        library = library_of(chunks)
        return library.to_host(chunks) if library is not None else np.array(chunks, copy=True)

    def materialize(self, x):
        """A dask array given to an eager path of a dask network (``set_params``, targets, a gradient
        check: small data) is computed into a host array; fit/forward/predict/evaluate never get here."""
        return x.compute() if array_api_compat.is_dask_array(x) else x

    float_errors = staticmethod(numpy_float_errors)

    def settings(self):
        try:
            import dask
        except ImportError:
            return {}
        return {"dask scheduler": str(dask.config.get("scheduler", None) or "default (distributed Client if one "
                                                                            "is active, else threads)")}

