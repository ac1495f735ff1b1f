"""PyTorch tensors on the CPU (``torch``) or a CUDA GPU (``torch:cuda``, ``torch:cuda:1``)."""

from __future__ import annotations

import array_api_compat

from ..utils._extras import install_hint
from ._library import ArrayLibrary, DeviceError, not_installed


class Torch(ArrayLibrary):
    name = "torch"
    install = install_hint("torch")
    distributions = ("torch",)
    inplace = True

    def load(self):
        try:
            import array_api_compat.torch as xp
        except ImportError:
            raise not_installed(self) from None
        return xp

    def device(self, xp, text):
        import torch

        try:
            dev = torch.device(text or "cpu")
        except RuntimeError as exc:
            raise DeviceError(f"names an invalid torch device ({exc})") from None
        if dev.type == "cuda":
            if not torch.cuda.is_available():
                raise DeviceError("is not usable: torch has no CUDA device (torch.cuda.is_available() is False)")
            index = dev.index if dev.index is not None else torch.cuda.current_device()
            if index >= torch.cuda.device_count():
                raise DeviceError(f"names CUDA device {index}, but torch sees {torch.cuda.device_count()}")
            return torch.device("cuda", index)
        if dev.type != "cpu":
            raise DeviceError(f"names torch device type {dev.type!r}; bpx supports 'cpu' and 'cuda'")
        return dev

    def devices(self, xp):
        import torch

        return ["cpu"] + [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]

    def owns(self, x):
        return array_api_compat.is_torch_array(x)

    def from_host(self, xp, host, dtype, device):
        if not host.flags.writeable:
            host = host.copy()  # torch cannot wrap read-only memory (it warns); a copy keeps the caller's array safe
        return xp.asarray(host, dtype=dtype, device=device)

    def to_host(self, x):
        x = x.detach()
        return x.numpy().copy() if x.device.type == "cpu" else x.cpu().numpy()  # .numpy() of a CPU tensor is a view

    def synchronize(self, device):
        if getattr(device, "type", None) == "cuda":
            import torch

            torch.cuda.synchronize(device)

    def settings(self):
        try:
            import torch
        except ImportError:
            return {}

        return {"torch.backends.cuda.matmul.allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
                "torch.get_float32_matmul_precision()": torch.get_float32_matmul_precision()}

