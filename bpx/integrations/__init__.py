"""Other libraries' models: the same weights and outputs in PyTorch and scikit-learn. The scikit-learn
estimators are public as :mod:`bpx.sklearn`."""

from ._interop import from_sklearn, from_torch, to_sklearn, to_torch

__all__ = ["from_sklearn", "from_torch", "to_sklearn", "to_torch"]
