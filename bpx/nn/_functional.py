"""The network's math as functions of ``(net, params, inputs)``: the functional core every engine calls.

With row-major batches (X is (m, n_in), W[l] is (n_in, n_out), b[l] is (n_out,)), one step is

    forward       Z[l] = A[l-1] @ W[l] + b[l],   A[l] = g(Z[l])               (Dense.forward)
    dropout       A[l] ← A[l] ⊙ mask[l] / (1 − p)  on hidden layers, training only  (:func:`forward`)
    BP1           dZ[L] = ∂C/∂A[L] ⊙ g'(Z[L])  (= (A[L] − Y)/m for matched pairs)   (Loss.delta)
    BP2           dZ[l] = (dZ[l+1] @ W[l+1]ᵀ) ⊙ [mask[l]/(1 − p)] ⊙ g'(Z[l])  (Dense.delta_below)
    BP3, BP4      dW[l] = A[l-1]ᵀ @ dZ[l],   db[l] = Σ_samples dZ[l]          (Dense.gradients)

``net`` is anything with the attributes of :class:`Network` (a :class:`bpx.MLP`, or the small per-chunk
view the distributed engine ships to its workers); ``params`` is the flat parameter list
``[W1, b1, W2, b2, ...]`` (``[W1, W2, ...]`` without biases). Nothing here keeps state, so the same
functions run eagerly, inside a compiled step (the parameters are tracers) and per row chunk on a
Dask worker; nothing imports an array library (docs/development/architecture.md, "the math written once").
"""

from __future__ import annotations

from typing import Any, Protocol

from ..backends._backend import ndarray_ok


class Network(Protocol):
    """What the functional core reads from a network (all public attributes of :class:`bpx.MLP`)."""

    layers: list  # the Dense layers, input side first
    slices: list  # layer l's parameters are params[slices[l]]
    loss_fn: Any  # the Loss (cost, BP1's delta)
    fused: bool  # the output activation is the loss's canonical pair (BP1 is (A − Y)/m)
    output: str  # the output activation's name ("softmax", "sigmoid", ...)
    is_classifier: bool
    backend: Any  # .xp (the namespace) and .device
    array_dtype: Any  # the namespace's dtype object of the network's dtype


def forward(net, params, X, masks=None):
    """Forward pass; returns A[L] and the caches (A[l-1], Z[l], A[l]) of every layer. ``masks``
    (training with dropout: one per hidden layer, already scaled by 1/(1 − p), or None) multiply
    each hidden layer's output before it feeds the next layer; the cache keeps A[l] = g(Z[l])."""
    caches, A = [], X
    for l, (layer, s) in enumerate(zip(net.layers, net.slices)):
        Z, A_next = layer.forward(A, *params[s])
        caches.append((A, Z, A_next))
        A = A_next if masks is None or masks[l] is None else A_next * masks[l]
    return A, caches


def backward(net, params, A_L, caches, Y, weights=None, masks=None, scale=None):
    """The backward pass from a forward pass's caches: the cost, the gradients aligned with params,
    and the deltas dZ[l] of every layer (kept for ``bpx explain``). ``scale``: None, or the loss scale
    S (a 0-d array, :mod:`bpx.loss_scaling`): the gradients are then those of S times the cost."""
    layers, slices = net.layers, net.slices
    _, Z_L, _ = caches[-1]
    cost = net.loss_fn.cost(Z_L, A_L, Y, net.fused, weights)
    dZ = net.loss_fn.delta(Z_L, A_L, Y, layers[-1].activation, weights)  # BP1
    if scale is not None:  # loss scaling: the gradient of S · C
        dZ = dZ * scale
    grads, deltas = [None] * len(params), [None] * len(layers)
    for l in range(len(layers) - 1, -1, -1):
        deltas[l] = dZ
        A_prev, _, _ = caches[l]
        grads[slices[l]] = layers[l].gradients(dZ, A_prev)  # BP3, BP4
        if l:
            _, Z_prev, A_below = caches[l - 1]
            W = params[slices[l].start]
            mask = None if masks is None else masks[l - 1]
            dZ = layers[l].delta_below(dZ, W, layers[l - 1], Z_prev, A_below, mask)  # BP2
    return cost, grads, deltas


def loss_and_grads(net, params, X, Y, weights=None, masks=None, scale=None):
    """Cost (a 0-d device array), gradients aligned with ``params``, and A[L]; ``weights`` is None (the
    mean over samples) or the (m, 1) column of normalised sample weights (``losses.normalized_weights``);
    ``masks`` the batch's dropout masks (:meth:`bpx.MLP.dropout_masks`) or None; ``scale`` as in
    :func:`backward`."""
    A_L, caches = forward(net, params, X, masks)
    cost, grads, _ = backward(net, params, A_L, caches, Y, weights, masks, scale)
    return cost, grads, A_L


def measure(net, params, X, Y, masks=None):
    """Cost and number of correctly classified rows (0 for regressors) on device arrays, as 0-d
    device arrays: a forward pass, no host sync."""
    A_L, caches = forward(net, params, X, masks)
    cost = net.loss_fn.cost(caches[-1][1], A_L, Y, net.fused)
    if net.is_classifier:
        return cost, n_correct(net, A_L, Y)
    return cost, net.backend.xp.zeros((), dtype=net.array_dtype, device=net.backend.device)


def n_correct(net, A, Y):
    """How many rows of A predict the class(es) of Y (a 0-d device array)."""
    if ndarray_ok(A):  # fast path: ndarray methods, no wrappers (the same reductions)
        hits = A.argmax(axis=1) == Y.argmax(axis=1) if net.output == "softmax" else ((A >= 0.5) == (Y >= 0.5)).all(axis=1)
        return hits.sum(dtype=A.dtype)
    xp = net.backend.xp
    if net.output == "softmax":
        hits = xp.argmax(A, axis=1) == xp.argmax(Y, axis=1)
    else:
        hits = xp.all((A >= 0.5) == (Y >= 0.5), axis=1)
    return xp.sum(xp.astype(hits, net.array_dtype))


def n_correct_batches(net, outputs):
    """The correct count over a list of (A, Y) batches: one concatenation, one count."""
    if len(outputs) == 1:
        return n_correct(net, *outputs[0])
    xp = net.backend.xp
    return n_correct(net, xp.concat([A for A, _ in outputs], axis=0), xp.concat([Y for _, Y in outputs], axis=0))
