"""array-api-strict: the conformance oracle. ``array_api_strict:device1`` simulates a second device
(how a GPU is simulated on a CPU machine), ``array_api_strict:no_float64`` a device without float64."""

from __future__ import annotations

import sys

import numpy as np

from ..utils._extras import install_hint
from ._library import ArrayLibrary, DeviceError, not_installed, numpy_float_errors


def device_name(device):
    """'device1' for array_api_strict.Device('device1')."""
    text = repr(device)
    return text.split("'")[1] if "'" in text else text


class ArrayApiStrict(ArrayLibrary):
    name = "array_api_strict"
    install = install_hint("strict")
    distributions = ("array-api-strict",)

    def load(self):
        try:
            import array_api_strict as xp
        except ImportError:
            raise not_installed(self) from None
        return xp

    def device(self, xp, text):
        devices = {device_name(d): d for d in xp.__array_namespace_info__().devices()}
        if (text or "CPU_DEVICE") not in devices:
            raise DeviceError(f"names an unknown array_api_strict device; known: {', '.join(devices)}")
        return devices[text or "CPU_DEVICE"]

    def devices(self, xp):
        return [device_name(d) for d in xp.__array_namespace_info__().devices()]

    def owns(self, x):
        return "array_api_strict" in sys.modules and type(x).__module__.startswith("array_api_strict.")

    def to_host(self, x):
        import array_api_strict as xp

        return np.array(x.to_device(xp.Device("CPU_DEVICE")), copy=True)

    float_errors = staticmethod(numpy_float_errors)

