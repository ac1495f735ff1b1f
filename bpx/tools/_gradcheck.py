"""Gradient check: backprop's gradients against central finite differences, in float64.

For each parameter p and each checked entry i, the numerical derivative is
``(C(p + ε e_i) − C(p − ε e_i)) / 2ε``. The error reported for a parameter is the worst absolute
difference over its entries, relative to the largest gradient magnitude of that parameter:
``max_i |analytic_i − numeric_i| / max(max_i |analytic_i|, max_i |numeric_i|)``; a wrong gradient
gives O(1), a right one ~1e-9 or less.
"""

from __future__ import annotations

from ..backends._backend import host_rngs, to_numpy
from ..data._adapter import as_data, as_sample_weight
from ..nn._activations import ACTIVATION_TOL, check_activation  # noqa: F401 (bpx.gradcheck.check_activation)
from ..nn._functional import loss_and_grads, measure
from ..nn._losses import normalized_weights
from ..utils._validation import check_float, check_int


def gradcheck(net, X, Y, eps=1e-5, max_entries=200, seed=0, sample_weight=None):
    """Worst relative error per parameter, ``{"W1": ..., "b1": ..., ...}`` (named as
    :meth:`bpx.MLP.param_names`: no ``b`` entries for a network without biases).

    The check runs on a float64 copy of ``net`` on the same backend (``net`` itself is untouched).
    Parameters with more than ``max_entries`` entries are checked at that many entries drawn at random
    (``seed``); ``max_entries=None`` checks every entry. ``sample_weight`` (m,) checks the weighted cost
    and its gradients (``fit(..., sample_weight=w)``). A network with dropout is checked as it
    trains, with one dropout mask drawn from ``seed`` and held fixed for the backprop gradients and
    every finite difference.

    Parameters
    ----------
    net : bpx.MLP
        The network, on any backend (not modified).
    X : array_like
        Samples, (m, n_features).
    Y : array_like
        Targets: labels or one-hot rows for a classifier, values for a regressor.
    eps : float, default 1e-5
        The central-difference step.
    max_entries : int or None, default 200
        Entries checked per parameter (drawn at random beyond that); None checks all.
    seed : int, default 0
        Seed for the entries drawn and the dropout mask.
    sample_weight : array_like, optional
        (m,) sample weights.

    Returns
    -------
    dict
        Parameter name → worst relative error between backprop and central differences.

    Raises
    ------
    TypeError
        If ``net`` is not a :class:`bpx.MLP`.
    ValueError
        For data the network refuses (as :meth:`bpx.MLP.fit` would).
    """
    from ..models._mlp import MLP

    if not isinstance(net, MLP):
        raise TypeError(f"net must be a bpx.MLP, got {type(net).__name__}")
    eps = check_float(eps, "eps", low=0.0, low_open=True)
    if max_entries is not None:
        max_entries = check_int(max_entries, "max_entries")
    twin = net.copy(dtype="float64")
    X, Y = as_data(twin, X, Y)
    xp = twin.backend.xp
    weights = None
    if sample_weight is not None:
        weights = normalized_weights(as_sample_weight(twin, sample_weight, X.shape[0]), xp)
    (rng, twin.rngs.dropout) = host_rngs(seed, 2)
    masks = twin.dropout_masks(X.shape[0])  # fixed: the same mask for every evaluation below
    params = twin.params
    _, grads, _ = loss_and_grads(twin, params, X, Y, weights, masks)

    def cost():
        if weights is None:
            return float(measure(twin, params, X, Y, masks)[0])
        return float(loss_and_grads(twin, params, X, Y, weights, masks)[0])

    errors = {}
    for k, (name, p, g) in enumerate(zip(twin.param_names(), list(params), grads)):
        size = 1
        for n in p.shape:
            size *= n
        if max_entries is None or size <= max_entries:
            entries = range(size)
        else:
            entries = sorted(rng.choice(size, max_entries, replace=False))
        analytic = to_numpy(xp.reshape(g, (-1,)))
        worst_diff, scale = 0.0, 0.0
        for i in entries:
            bump = eps * xp.reshape(xp.eye(1, size, k=int(i), dtype=p.dtype, device=twin.backend.device), p.shape)
            params[k] = p + bump
            c_plus = cost()
            params[k] = p - bump
            c_minus = cost()
            numeric = (c_plus - c_minus) / (2 * eps)
            worst_diff = max(worst_diff, abs(float(analytic[i]) - numeric))
            scale = max(scale, abs(float(analytic[i])), abs(numeric))
        params[k] = p
        errors[name] = worst_diff / scale if scale else worst_diff
    return errors
