"""PyTorch tensors on the CPU (``torch``) or a CUDA GPU (``torch:cuda``, ``torch:cuda:1``)."""

from __future__ import annotations

import contextlib

import array_api_compat
import numpy as np

from ..utils._extras import install_hint
from ._library import ArrayLibrary, DeviceError, not_installed
from ._matmul_precision import tf32_allowed


class Torch(ArrayLibrary):
    name = "torch"
    install = install_hint("torch")
    distributions = ("torch",)
    inplace = True
    clamps = True  # torch.clamp takes Python-scalar bounds; array-api-compat's maximum makes a tensor of one

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

    def transfer(self, xp, host, device):
        """One code path on every device: a tensor over ``host``, pinned on CUDA (the only memory a copy
        can leave without waiting: torch's pinned allocator keeps the buffer until the copy is done), then
        ``.to(device, non_blocking=True)`` (a no-op on the CPU, where the tensor is already there)."""
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(host))
        if getattr(device, "type", None) == "cuda":
            tensor = tensor.pin_memory()
        return tensor.to(device, non_blocking=True)

    def to_host(self, x):
        x = x.detach()
        return x.numpy().copy() if x.device.type == "cpu" else x.cpu().numpy()  # .numpy() of a CPU tensor is a view

    def synchronize(self, device):
        if getattr(device, "type", None) == "cuda":
            import torch

            torch.cuda.synchronize(device)

    def device_context(self, device):
        """On CUDA, TF32 matmuls exactly as the user chose (``BPX_TF32``, :mod:`bpx.backends._matmul_precision`),
        whatever ``torch.backends.cuda.matmul.allow_tf32`` says outside bpx; nothing on the CPU."""
        if getattr(device, "type", None) != "cuda":
            return contextlib.nullcontext()
        return _allow_tf32(tf32_allowed())

    def settings(self):
        try:
            import torch
        except ImportError:
            return {}

        return {"torch:cuda TF32 inside bpx": "on (BPX_TF32=1)" if tf32_allowed() else "off",
                "torch.backends.cuda.matmul.allow_tf32 (outside bpx)": bool(torch.backends.cuda.matmul.allow_tf32)}


@contextlib.contextmanager
def _allow_tf32(on):
    import torch

    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = on
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before

