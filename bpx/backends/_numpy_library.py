"""NumPy on the CPU: bpx's reference backend."""

from __future__ import annotations

import array_api_compat
import numpy as np

from ._library import ArrayLibrary, DeviceError, numpy_float_errors


class NumPy(ArrayLibrary):
    name = "numpy"
    install = "pip install numpy"
    distributions = ("numpy",)
    inplace = True
    ndarray = True

    def load(self):
        import array_api_compat.numpy as xp

        return xp

    def device(self, xp, text):
        if text not in (None, "cpu"):
            raise DeviceError("names a device numpy does not have (numpy has only 'cpu')")
        return "cpu"

    def devices(self, xp):
        return ["cpu"]

    def owns(self, x):
        return array_api_compat.is_numpy_array(x)

    def from_host(self, xp, host, dtype, device):
        return xp.asarray(host, dtype=dtype)

    def to_host(self, x):
        return np.array(x, copy=True)

    float_errors = staticmethod(numpy_float_errors)

