"""Losses: the cost C = (1/m) Σ_samples loss(a, y), and the output delta dZ[L] of BP1.

Each per-sample loss is summed over the output units; the cost is its mean over the m samples.
``mse`` is the seeds' ½·Σ(a−y)². When the output activation is the loss's matched pair
(sigmoid+BCE, softmax+CE, identity+MSE) the output delta is fused to the exact ``(A − Y) / m``, and the
cross-entropies are computed from the logits Z, so the reported cost is honest even where A rounds
to 0 or 1. Otherwise A is clipped to [eps, 1 − eps] (eps = the dtype's machine epsilon), the same
clip in the cost and in its gradient.
"""

from __future__ import annotations

from .activations import log_softmax, softplus
from .backend import inplace_ok, ndarray_ok
from .backend import namespace as array_namespace


def _sum(x):
    """Σ over all elements as a 0-d value (the ndarray method where it exists: no wrapper)."""
    return x.sum() if ndarray_ok(x) else array_namespace(x).sum(x)


class Loss:
    """Base class. ``pairs_with`` names the output activation whose delta is ``(A − Y) / m``."""

    name = ""
    pairs_with = ""

    def cost(self, Z, A, Y, fused):
        """C as a 0-d array on the device; ``fused`` says the output activation is ``pairs_with``."""
        raise NotImplementedError

    def gradient(self, A, Y):
        """∂C/∂A (including the 1/m of the mean)."""
        raise NotImplementedError

    def delta(self, Z, A, Y, activation):
        """BP1: dZ[L] = ∂C/∂A[L] ⊙ g'(Z[L]), which is (A − Y)/m for the matched pair."""
        if activation.name == self.pairs_with:
            D = A - Y
            if inplace_ok(D):  # fast path: divide the fresh difference in place
                D /= A.shape[0]
                return D
            return D / A.shape[0]
        return activation.backward_owned(Z, A, self.gradient(A, Y))  # the gradient is a fresh temporary

    def __repr__(self):
        return self.name


def _clip(A):
    xp = array_namespace(A)
    eps = float(xp.finfo(A.dtype).eps)
    return xp.clip(A, eps, 1.0 - eps)


class MeanSquaredError(Loss):
    name = "mse"
    pairs_with = "identity"

    def cost(self, Z, A, Y, fused):
        """C = (1/m) Σ ½ Σ_j (a_j − y_j)²."""
        D = A - Y
        return _sum(D * D) / (2.0 * A.shape[0])

    def gradient(self, A, Y):
        """∂C/∂A = (A − Y)/m."""
        D = A - Y
        if inplace_ok(D):
            D /= A.shape[0]
            return D
        return D / A.shape[0]


class BinaryCrossEntropy(Loss):
    name = "binary_cross_entropy"
    pairs_with = "sigmoid"

    def cost(self, Z, A, Y, fused):
        """C = −(1/m) Σ Σ_j [y log a + (1 − y) log(1 − a)]; from logits: softplus(z) − y z."""
        xp = array_namespace(A)
        if fused:
            return _sum(softplus(Z) - Y * Z) / A.shape[0]
        A = _clip(A)
        return -xp.sum(Y * xp.log(A) + (1.0 - Y) * xp.log1p(-A)) / A.shape[0]

    def gradient(self, A, Y):
        """∂C/∂A = (a − y) / (a (1 − a)) / m, with a clipped."""
        A = _clip(A)
        return (A - Y) / (A * (1.0 - A)) / A.shape[0]


class CrossEntropy(Loss):
    name = "cross_entropy"
    pairs_with = "softmax"

    def cost(self, Z, A, Y, fused):
        """C = −(1/m) Σ Σ_j y_j log a_j; from logits: −Σ y ⊙ log_softmax(z)."""
        xp = array_namespace(A)
        if fused:
            return -_sum(Y * log_softmax(Z)) / A.shape[0]
        return -xp.sum(Y * xp.log(_clip(A))) / A.shape[0]

    def gradient(self, A, Y):
        """∂C/∂A = −(y / a) / m, with a clipped."""
        return -(Y / _clip(A)) / A.shape[0]


LOSSES = {cls.name: cls() for cls in (MeanSquaredError, BinaryCrossEntropy, CrossEntropy)}


def get_loss(name):
    """The loss called ``name``; a ``ValueError`` listing the valid names otherwise."""
    if isinstance(name, Loss):
        return name
    if not isinstance(name, str):
        raise TypeError(f"loss must be a string naming a loss, got {type(name).__name__}")
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"loss={name!r} is not a loss; expected one of {', '.join(LOSSES)}") from None
