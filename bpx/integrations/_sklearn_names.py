"""The one table between scikit-learn's activation names and bpx's, used by :mod:`bpx.sklearn`,
:func:`bpx.from_sklearn` and :func:`bpx.to_sklearn` (scikit-learn is not imported here)."""

from __future__ import annotations

# scikit-learn's name -> bpx's; "softmax" is an output only (scikit-learn's out_activation_)
SKLEARN_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu", "softmax": "softmax"}
# the hidden activations scikit-learn's MLPs accept (their ``activation`` parameter)
SKLEARN_HIDDEN = ("identity", "logistic", "tanh", "relu")


def sklearn_name(name):
    """scikit-learn's name for the bpx activation ``name`` (``"sigmoid"`` -> ``"logistic"``); other
    names come back unchanged."""
    for sklearn, ours in SKLEARN_ACTIVATIONS.items():
        if ours == name:
            return sklearn
    return name
