"""Losses: the cost C = (1/m) Σ_samples loss(a, y), and the output delta dZ[L] of BP1.

Each per-sample loss is summed over the output units; the cost is its mean over the m samples.
``mse`` is the seeds' ½·Σ(a−y)². When the output activation is the loss's matched pair
(sigmoid+BCE, softmax+CE, identity+MSE) the output delta is fused to the exact ``(A − Y) / m``, and the
cross-entropies are computed from the logits Z, so the reported cost is honest even where A rounds
to 0 or 1. Otherwise A is clipped to [eps, 1 − eps] (eps = the dtype's machine epsilon), the same
clip in the cost and in its gradient.

Sample weights: every ``cost``, ``gradient`` and ``delta`` takes ``weights``, an (m, 1) column of
normalised weights ω_i = w_i / Σ_k w_k (:func:`normalized_weights`). The mean (1/m) Σ_i becomes the weighted
mean Σ_i ω_i, so the fused delta is ω ⊙ (A − Y) — scikit-learn's MLP normalisation (it multiplies the
delta by w and divides the gradients by Σw). ``weights=None`` is the plain mean, computed as before.
"""

from __future__ import annotations

from ..backends._backend import inplace_ok, ndarray_ok
from ..backends._backend import namespace as array_namespace
from ._activations import ACTIVATIONS, softplus
from ._bounds import at_least


def _sum(x):
    """Σ over all elements as a 0-d value (the ndarray method where it exists: no wrapper)."""
    return x.sum() if ndarray_ok(x) else array_namespace(x).sum(x)


def _mean(L, m, weights):
    """The cost from per-element losses L (m, n_out): Σ L / m, or Σ_i ω_i Σ_j L_ij with weights."""
    return _sum(L) / m if weights is None else _sum(L * weights)


def _per_sample(D, m, weights):
    """D/m, or ω ⊙ D with weights (D is a fresh temporary: the fast path divides it in place)."""
    if weights is not None:
        return D * weights
    if inplace_ok(D):
        D /= m
        return D
    return D / m


def normalized_weights(w, xp=None):
    """Sample weights w (m,) as the (m, 1) column ω = w / Σw that ``weights`` arguments take. All-zero
    weights give zeros (a batch that carries no weight contributes nothing) rather than 0/0."""
    xp = array_namespace(w) if xp is None else xp
    total = xp.sum(w)
    tiny = float(xp.finfo(w.dtype).smallest_normal)
    return xp.reshape(w / at_least(total, tiny), (-1, 1))


class Loss:
    """Base class. ``pairs_with`` names the output activation whose delta is ``(A − Y) / m``."""

    name = ""
    pairs_with = ""

    def cost(self, Z, A, Y, fused, weights=None):
        """C as a 0-d array on the device; ``fused`` says the output activation is ``pairs_with``."""
        raise NotImplementedError

    def gradient(self, A, Y, weights=None):
        """∂C/∂A (including the 1/m of the mean, or the weights ω)."""
        raise NotImplementedError

    def delta(self, Z, A, Y, activation, weights=None):
        """BP1: dZ[L] = ∂C/∂A[L] ⊙ g'(Z[L]), which is (A − Y)/m (ω ⊙ (A − Y) weighted) for the matched pair."""
        if activation.name == self.pairs_with:
            return _per_sample(A - Y, A.shape[0], weights)  # fast path: divides the fresh difference in place
        return activation.backward_owned(Z, A, self.gradient(A, Y, weights))  # the gradient is a fresh temporary

    def __repr__(self):
        return self.name


def _clip(A):
    xp = array_namespace(A)
    eps = float(xp.finfo(A.dtype).eps)
    return xp.clip(A, eps, 1.0 - eps)


class MeanSquaredError(Loss):
    name = "mse"
    pairs_with = "identity"

    def cost(self, Z, A, Y, fused, weights=None):
        """C = (1/m) Σ ½ Σ_j (a_j − y_j)²."""
        D = A - Y
        if weights is not None:
            return _sum(D * D * weights) / 2.0
        return _sum(D * D) / (2.0 * A.shape[0])

    def gradient(self, A, Y, weights=None):
        """∂C/∂A = (A − Y)/m."""
        return _per_sample(A - Y, A.shape[0], weights)


class BinaryCrossEntropy(Loss):
    name = "binary_cross_entropy"
    pairs_with = "sigmoid"

    def cost(self, Z, A, Y, fused, weights=None):
        """C = −(1/m) Σ Σ_j [y log a + (1 − y) log(1 − a)]; from logits: softplus(z) − y z."""
        xp = array_namespace(A)
        if fused:
            return _mean(softplus(Z) - Y * Z, A.shape[0], weights)
        A = _clip(A)
        return -_mean(Y * xp.log(A) + (1.0 - Y) * xp.log1p(-A), A.shape[0], weights)

    def gradient(self, A, Y, weights=None):
        """∂C/∂A = (a − y) / (a (1 − a)) / m, with a clipped."""
        A = _clip(A)
        return _per_sample((A - Y) / (A * (1.0 - A)), A.shape[0], weights)


class CrossEntropy(Loss):
    name = "cross_entropy"
    pairs_with = "softmax"

    def cost(self, Z, A, Y, fused, weights=None):
        """C = −(1/m) Σ Σ_j y_j log a_j; from logits: −Σ y ⊙ log_softmax(z)."""
        xp = array_namespace(A)
        if fused:
            return -_mean(Y * ACTIVATIONS["softmax"].log_of(Z), A.shape[0], weights)  # shares the forward's work
        return -_mean(Y * xp.log(_clip(A)), A.shape[0], weights)

    def gradient(self, A, Y, weights=None):
        """∂C/∂A = −(y / a) / m, with a clipped."""
        return _per_sample(-(Y / _clip(A)), A.shape[0], weights)


class Poisson(Loss):
    """Half the Poisson deviance, scikit-learn's ``loss="poisson"``: for counts y ≥ 0 and rates a > 0,
    per sample Σ_j [y log(y / a) − y + a] (0 log 0 = 0). Its matched output is ``exp`` (the canonical
    link), for which the delta is (A − Y)/m and the cost is computed from Z (log a = z)."""

    name = "poisson"
    pairs_with = "exp"

    def cost(self, Z, A, Y, fused, weights=None):
        """C = (1/m) Σ Σ_j [y log y − y log a − y + a]; from logits: y log y − y z − y + e^z."""
        xp = array_namespace(A)
        ylogy = Y * xp.log(xp.where(Y > 0, Y, 1.0))  # 0 where y = 0, with no log(0) evaluated
        log_a = Z if fused else xp.log(at_least(A, float(xp.finfo(A.dtype).smallest_normal)))
        return _mean(ylogy - Y * log_a - Y + A, A.shape[0], weights)

    def gradient(self, A, Y, weights=None):
        """∂C/∂A = (1 − y / a) / m, with a kept above the dtype's smallest normal number."""
        xp = array_namespace(A)
        return _per_sample(1.0 - Y / at_least(A, float(xp.finfo(A.dtype).smallest_normal)), A.shape[0], weights)


LOSSES = {cls.name: cls() for cls in (MeanSquaredError, BinaryCrossEntropy, CrossEntropy, Poisson)}


def get_loss(name):
    """The loss called ``name``; a ``ValueError`` listing the valid names otherwise.

    Parameters
    ----------
    name : str
        A key of :data:`bpx.LOSSES` (``"mse"``, ``"binary_cross_entropy"``, ``"cross_entropy"``,
        ``"poisson"``).

    Returns
    -------
    Loss
        The loss object.

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        If no loss has that name (the message lists them)."""
    if isinstance(name, Loss):
        return name
    if not isinstance(name, str):
        raise TypeError(f"loss must be a string naming a loss, got {type(name).__name__}")
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"loss={name!r} is not a loss; expected one of {', '.join(LOSSES)}") from None
