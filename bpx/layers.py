"""The dense layer: forward ``Z = A_prev @ W + b, A = g(Z)`` next to its gradients (BP3, BP4).

Row-major batches, as DESIGN.md writes them: A_prev is (m, n_in), W is (n_in, n_out), b is (n_out,).
The layer holds no arrays; the network passes its parameters in, so the parameter list stays the one
source of truth.
"""

from __future__ import annotations

from .activations import get_activation
from .backend import inplace_ok, namespace, ndarray_ok


class Dense:
    """A fully connected layer of ``n_out`` units with activation ``g``."""

    def __init__(self, n_in, n_out, activation):
        self.n_in = n_in
        self.n_out = n_out
        self.activation = get_activation(activation)

    def __repr__(self):
        return f"Dense({self.n_in} -> {self.n_out}, {self.activation.name})"

    def forward(self, A_prev, W, b):
        """Z[l] = A[l-1] @ W[l] + b[l],  A[l] = g(Z[l])."""
        Z = A_prev @ W
        if inplace_ok(Z):  # fast path: add the bias into the fresh product, no second (m, n_out) array
            Z += b
        else:
            Z = Z + b
        return Z, self.activation(Z)

    def gradients(self, dZ, A_prev):
        """BP3/BP4: dW[l] = A[l-1]ᵀ @ dZ[l],  db[l] = Σ_samples dZ[l]."""
        db = dZ.sum(axis=0) if ndarray_ok(dZ) else namespace(dZ).sum(dZ, axis=0)
        return A_prev.T @ dZ, db

    def delta_below(self, dZ, W, below, Z_prev, A_prev):
        """BP2: dZ[l-1] = (dZ[l] @ W[l]ᵀ) ⊙ g'(Z[l-1]), ``below`` being layer l-1."""
        return below.activation.backward_owned(Z_prev, A_prev, dZ @ W.T)  # dZ @ Wᵀ is ours to overwrite
