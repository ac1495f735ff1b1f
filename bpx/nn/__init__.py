"""The math: activations, losses, initializers, the dense layer and mixed precision, each forward pass
next to its backward pass, written once against the array API (docs/development/architecture.md)."""

from ._activations import ACTIVATIONS, Activation, activation, get_activation, log_softmax, softplus
from ._initializers import default_init, get_initializer
from ._layers import Dense, param_layout
from ._losses import LOSSES, get_loss, normalized_weights
from ._precision import PRECISIONS, supports

__all__ = ["ACTIVATIONS", "LOSSES", "PRECISIONS", "Activation", "Dense", "activation", "default_init",
           "get_activation", "get_initializer", "get_loss", "log_softmax", "normalized_weights", "param_layout",
           "softplus", "supports"]
