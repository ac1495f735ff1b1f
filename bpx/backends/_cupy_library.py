"""CuPy on a CUDA GPU (``cupy``, ``cupy:1``); the one ``auto`` picks when a CUDA device really works."""

from __future__ import annotations

import os

import array_api_compat

from ..utils._extras import DISTRIBUTION, install_hint
from ._library import ArrayLibrary, DeviceError, Unavailable, not_installed, numpy_float_errors
from ._matmul_precision import tf32_allowed


class CuPy(ArrayLibrary):
    name = "cupy"
    install = f"{install_hint('cupy')} for CUDA 12, '{DISTRIBUTION}[cupy13]' for CUDA 13"
    distributions = ("cupy-cuda12x", "cupy-cuda13x", "cupy")
    inplace = True
    ndarray = True
    accelerator = True

    def load(self):
        if tf32_allowed() and "CUPY_TF32" not in os.environ:  # CuPy reads it once, at its first matmul (below)
            os.environ["CUPY_TF32"] = "1"
        try:
            import cupy
        except ImportError:
            raise not_installed(self) from None
        except Exception as exc:  # a broken install raises all sorts of things at import
            raise Unavailable(f"import failed: {type(exc).__name__}: {exc}") from None
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:
            raise Unavailable(f"no usable CUDA driver ({type(exc).__name__}: {exc})") from None
        if count == 0:
            raise Unavailable("no CUDA device found")
        try:  # a device that is present but cannot run a kernel is not usable
            (cupy.arange(4, dtype=cupy.float32) @ cupy.ones(4, dtype=cupy.float32)).get()
        except Exception as exc:
            raise Unavailable(f"CUDA device present but unusable ({type(exc).__name__}: {exc})") from None
        import array_api_compat.cupy as xp

        return xp

    def device(self, xp, text):
        import cupy

        try:
            index = int(text or 0)
        except ValueError:
            raise DeviceError("names a CuPy device that is not an integer index") from None
        count = cupy.cuda.runtime.getDeviceCount()
        if not 0 <= index < count:
            raise DeviceError(f"names CUDA device {index}, but CuPy sees {count}")
        return cupy.cuda.Device(index)

    def devices(self, xp):
        import cupy

        found = []
        for i in range(cupy.cuda.runtime.getDeviceCount()):
            props = cupy.cuda.runtime.getDeviceProperties(i)
            name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
            found.append(f"{i} ({name}, {props['totalGlobalMem'] / 2**30:.0f} GiB)")
        return found

    def owns(self, x):
        return array_api_compat.is_cupy_array(x)

    def device_context(self, device):
        """``device`` itself (a ``cupy.cuda.Device``): array-api-compat ignores ``device=`` for CuPy, so
        every array bpx makes (``xp.zeros(..., device=)`` in the step, the snapshots) lands on the current
        device, which this context makes the network's."""
        return device

    def from_host(self, xp, host, dtype, device):
        with device:
            return xp.asarray(host, dtype=dtype)

    def to_host(self, x):
        return x.get()  # a fresh host array

    def synchronize(self, device):
        import cupy

        with device:
            cupy.cuda.get_current_stream().synchronize()

    float_errors = staticmethod(numpy_float_errors)

    def settings(self):
        if os.environ.get("CUPY_TF32") == "1":
            return {"cupy TF32": "on (CUPY_TF32=1" + (", from BPX_TF32=1)" if tf32_allowed() else ", set outside bpx)")}
        return {"cupy TF32": "off (BPX_TF32=1 allows it)"}

