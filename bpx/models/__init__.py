"""Models: the multi-layer perceptron (its layers, forward pass, BP1-BP4 and predictions)."""

from ._mlp import MLP

__all__ = ["MLP"]
