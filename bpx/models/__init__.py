"""Models: the multi-layer perceptron (its configuration, parameters and host random streams; the math
is bpx.nn's functional core) and :func:`load`, which builds one from a model file (bpx.io)."""

from ._mlp import MLP
from ._saving import load

__all__ = ["MLP", "load"]
