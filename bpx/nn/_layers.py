"""The dense layer: forward ``Z = A_prev @ W + b, A = g(Z)`` next to its gradients (BP3, BP4).

Row-major batches, as DESIGN.md writes them: A_prev is (m, n_in), W is (n_in, n_out), b is (n_out,).
The layer holds no arrays; the network passes its parameters in, so the parameter list stays the one
source of truth. A layer built with ``bias=False`` has the weight matrix only (``Z = A_prev @ W``,
the two-layer NumPy networks); :func:`param_layout` names and shapes the parameters of a whole network.
"""

from __future__ import annotations

from ..backends._backend import inplace_ok, namespace, ndarray_ok
from ._activations import get_activation


class Dense:
    """A fully connected layer of ``n_out`` units with activation ``g`` (and a bias unless ``bias=False``).

    The layer holds no arrays: the network passes its parameters to :meth:`forward`,
    :meth:`gradients` and :meth:`delta_below`.

    Parameters
    ----------
    n_in, n_out : int
        Input and output widths.
    activation : str or Activation
        g, by name or object.
    bias : bool, default True
        Whether the layer has a bias b.

    Raises
    ------
    ValueError
        If ``activation`` names no activation."""

    def __init__(self, n_in, n_out, activation, bias=True):
        self.n_in = n_in
        self.n_out = n_out
        self.activation = get_activation(activation)
        self.bias = bool(bias)
        self.compute_dtype = None  # mixed precision: the dtype of the matrix products (bpx.precision)

    def __repr__(self):
        return f"Dense({self.n_in} -> {self.n_out}, {self.activation.name}{'' if self.bias else ', bias=False'})"

    @property
    def slots(self):
        """The kinds of this layer's parameters, in order: ``("W", "b")``, or ``("W",)`` without a bias."""
        return ("W", "b") if self.bias else ("W",)

    def param_shapes(self):
        return [(self.n_in, self.n_out), (self.n_out,)][:len(self.slots)]

    def forward(self, A_prev, W, b=None):
        """Z[l] = A[l-1] @ W[l] + b[l]  (without a bias: Z[l] = A[l-1] @ W[l]),  A[l] = g(Z[l])."""
        Z = self._matmul(A_prev, W)
        if b is not None:
            if inplace_ok(Z):  # fast path: add the bias into the fresh product, no second (m, n_out) array
                Z += b
            else:
                Z = Z + b
        return Z, self.activation(Z)

    def gradients(self, dZ, A_prev):
        """BP3/BP4: [dW[l] = A[l-1]ᵀ @ dZ[l],  db[l] = Σ_samples dZ[l]], aligned with :attr:`slots`."""
        dW = self._matmul(A_prev.T, dZ)
        if not self.bias:
            return [dW]
        db = dZ.sum(axis=0) if ndarray_ok(dZ) else namespace(dZ).sum(dZ, axis=0)
        return [dW, db]

    def delta_below(self, dZ, W, below, Z_prev, A_prev, mask=None):
        """BP2: dZ[l-1] = (dZ[l] @ W[l]ᵀ) ⊙ g'(Z[l-1]), ``below`` being layer l-1 and ``A_prev`` its
        activation g(Z[l-1]). With dropout on layer l-1 its output was A ⊙ mask (the mask already
        scaled by 1/(1−p)), so the gradient flowing back is multiplied by the same mask."""
        dA = self._matmul(dZ, W.T)  # a fresh temporary: ours to overwrite
        if mask is not None:
            if inplace_ok(dA):
                dA *= mask
            else:
                dA = dA * mask
        return below.activation.backward_owned(Z_prev, A_prev, dA)


    def _matmul(self, a, b):
        """``a @ b``; with mixed precision (:mod:`bpx.precision`) the operands are cast to
        ``compute_dtype`` and the product back to ``a``'s dtype."""
        low = self.compute_dtype
        if low is None:
            return a @ b
        xp = namespace(a)
        return xp.astype(xp.astype(a, low) @ xp.astype(b, low), a.dtype)


def param_layout(layer_sizes, bias=True):
    """``[(name, shape), ...]`` of a network's parameters in :attr:`bpx.MLP.params` order:
    ``W1, b1, W2, b2, ...``, or ``W1, W2, ...`` with ``bias=False``.

    Parameters
    ----------
    layer_sizes : sequence of int
        Input width, hidden widths, output width.
    bias : bool, default True
        Whether the layers have biases.

    Returns
    -------
    list of (str, tuple)
        E.g. ``[("W1", (2, 3)), ("b1", (3,)), ...]``."""
    layout = []
    for l, (n_in, n_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:]), 1):
        layout.append((f"W{l}", (n_in, n_out)))
        if bias:
            layout.append((f"b{l}", (n_out,)))
    return layout
