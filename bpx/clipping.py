"""Gradient clipping, written once for every backend: by global norm (as
``torch.nn.utils.clip_grad_norm_``) and by value (as ``torch.nn.utils.clip_grad_value_``)."""

from .optimizers._clipping import clip_by_global_norm, clip_by_value, global_norm

__all__ = ["clip_by_global_norm", "clip_by_value", "global_norm"]
