"""The training step, written once: a pure function of (parameters, optimizer state, batch).

:func:`step` is forward, backprop (BP1–BP4, the functional core's ``loss_and_grads``) and the optimizer's
update rule (:meth:`bpx.Optimizer.update`) as one function

    (params, state, coefs, X, Y[, weights]) -> (params, state, cost, A_L)

with ``coefs`` the per-step scalars of the step count ``t`` (Adam's bias corrections; the step count
lives on the host, so every backend gets the very same numbers). Every backend runs it:

- eager libraries (numpy, cupy, torch, array_api_strict) call it once per batch (:func:`eager_step`);
  numpy, cupy and torch take their in-place fast paths inside it (``inplace``), so the arrays they are
  given are updated where they lie;
- compiled libraries (``ArrayLibrary.compiled``: JAX) compile it (:class:`Compiled`): ``train_step`` is
  one compiled step with the parameters and optimizer state donated, and ``fit`` compiles a whole
  epoch, the full batches in one ``lax.scan`` and the last shorter batch after it, with the epoch's
  summary (summed cost, correct count, finiteness) computed on the device: one dispatch and one host
  sync per epoch. The batches are the ones the other backends see (the shuffle is drawn on the host
  from the same stream, DESIGN rule 3), gathered once per epoch on the device.

Compiled functions are cached per network architecture (its ``repr``), optimizer hyperparameters
(all but the learning rate, a per-step coefficient) and device; the library compiles once per input
shape and dtype, so a second epoch, a second ``fit`` or a second network of the same architecture
compiles nothing.

This module imports no array library for the math (the compiled entry provides ``jit``, ``scan`` and
``block``); it uses numpy only for host-side data, as the shuffle does: the permutation and the
per-step coefficients, built on the host and moved to the device once per epoch.

A network with ``precision="fp16"`` steps with dynamic loss scaling (:func:`bpx.loss_scaling.scaled_step`,
the same pure function with the scale S and its good-step counter in the optimizer's state).
"""

from __future__ import annotations

import collections
import copy

import numpy as np

from ..nn._dropout import bit_positions, draw_packed, scale_keep, unpack_keep
from ..nn._functional import loss_and_grads, n_correct
from ..nn._losses import normalized_weights
from ..optimizers._first_order import Optimizer
from ..optimizers._loss_scaling import scaled_step, with_scaler_state

CACHE_SIZE = 16  # compiled (architecture, optimizer) pairs kept


def step(net, optimizer, params, state, coefs, X, Y, inplace=False, weights=None, masks=None):
    """One training step on the batch (X, Y) as a pure function (unless ``inplace``): returns the new
    parameters and optimizer state, the batch's cost before the update (a 0-d array) and A[L].
    ``weights``: None, or the batch's normalised sample weights (an (m, 1) column); ``masks``: the
    batch's dropout masks (``MLP.dropout_masks``), or None. ``net`` supplies the architecture (the
    functional core's :class:`bpx.nn._functional.Network`), ``params`` the numbers."""
    if getattr(net, "loss_scaler", None) is not None:  # fp16: dynamic loss scaling, the generic update
        return scaled_step(net, optimizer, params, state, coefs, X, Y, weights, masks)
    cost, grads, A_L = loss_and_grads(net, params, X, Y, weights, masks)
    params, state = optimizer.update(params, grads, state, coefs, inplace)
    return params, state, cost, A_L


def eager_step(net, optimizer, X, Y, weights=None, masks=None):
    """:func:`step` on an eager backend with the optimizer's bookkeeping (its state and step count);
    updates ``net`` and ``optimizer``, returns (cost, A[L]). A loop over many batches builds one
    :class:`EagerSteps` instead (the same step, its decisions taken once)."""
    return EagerSteps(net, optimizer)(X, Y, weights, masks)


class EagerSteps:
    """:func:`eager_step` for one (network, optimizer) pair, with what does not change from batch to batch
    decided once (per fit, not per step): whether the optimizer's rule is functional, its state (checked
    against the parameters' shapes and created once: training keeps the shapes) and whether it updates
    in place. Calling it runs one step on a batch: ``(X, Y, weights, masks) -> (cost, A[L])``."""

    def __init__(self, net, optimizer):
        self.net, self.optimizer = net, optimizer
        self.functional = functional(optimizer)
        if self.functional:
            prepare(net, optimizer)
            self.inplace = optimizer.use_inplace(net.params)

    def __call__(self, X, Y, weights=None, masks=None):
        net, optimizer = self.net, self.optimizer
        if not self.functional:  # an optimizer with its own step(): the stateful interface
            cost, grads, A_L = loss_and_grads(net, net.params, X, Y, weights, masks)
            net.params = optimizer.step(net.params, grads)
            return cost, A_L
        if not optimizer.prepared:  # reset() between steps (a callback): a fresh state, as eager_step makes
            prepare(net, optimizer)
        optimizer.t += 1
        net.params, optimizer.state, cost, A_L = step(net, optimizer, net.params, optimizer.state,
                                                      optimizer.coefficients(optimizer.t), X, Y, self.inplace,
                                                      weights, masks)
        return cost, A_L


def prepare(net, optimizer):
    """The optimizer's state for ``net``'s parameters (:meth:`Optimizer.prepare`), with the loss scaler's
    entries added for an fp16 network (:mod:`bpx.loss_scaling`)."""
    state = optimizer.prepare(net.params)
    if getattr(net, "loss_scaler", None) is not None:
        state = optimizer.state = with_scaler_state(net.loss_scaler, state, net.params)
    return state


def check_optimizer(optimizer, net=None):
    """Refuse anything but a bpx optimizer (TypeError), and for an fp16 ``net`` an optimizer with its own
    stateful step (ValueError: loss scaling lives in the functional step), before any work."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a bpx optimizer such as bpx.SGD(lr=0.1) or bpx.Adam(), got {optimizer!r}")
    if getattr(net, "loss_scaler", None) is not None and not functional(optimizer):
        raise ValueError(f"precision='fp16' trains with dynamic loss scaling inside bpx's functional step; "
                         f"{type(optimizer).__name__} has its own step: use bpx.SGD, bpx.Adam, bpx.AdamW, "
                         f"bpx.RMSprop or bpx.Adagrad, or precision='bf16'")


def functional(optimizer):
    """Whether ``optimizer``'s rule is :meth:`Optimizer.update` (a subclass overriding ``step`` keeps its
    own, stateful rule, and runs eagerly)."""
    return type(optimizer).step is Optimizer.step


def compiles(net, optimizer):
    """Whether ``fit`` runs compiled epochs: the network's library compiles and the optimizer's rule is
    functional. Dropout masks, drawn on the host, go into the compiled epoch as inputs."""
    return net.backend.library.compiled and functional(optimizer)


def train_step(net, optimizer, X, Y):
    """One step of ``net.train_step``: compiled where the library compiles, else :func:`eager_step`.
    Returns the cost (a 0-d array)."""
    if not compiles(net, optimizer) or any(getattr(net, "dropout", None) or ()):  # one step's masks: eager
        return eager_step(net, optimizer, X, Y, masks=net.dropout_masks(X.shape[0]))[0]
    compiled = Compiled.get(net, optimizer)
    state = prepare(net, optimizer)
    optimizer.t += 1
    coefs = _coefs(net, optimizer, optimizer.t, 1)[0]
    net.params, optimizer.state, cost = compiled.step(list(net.params), state, coefs, X, Y)
    return cost


def epoch(net, optimizer, X, Y, order, batch, sample_weight=None, masks=None):
    """One compiled epoch over (X, Y) in batches of ``batch`` rows taken in ``order`` (a host
    permutation, or None for the rows as they are), weighted by ``sample_weight`` (m,) if given, with
    the epoch's dropout ``masks`` (:func:`epoch_masks`) if the network has dropout. Updates ``net`` and
    ``optimizer``; returns the per-batch costs (a 1-d device array) and the epoch's ``[summed cost,
    correct count, finite]`` stacked in one device array (one read-back), as the training loop reads them."""
    compiled = Compiled.get(net, optimizer)
    state = prepare(net, optimizer)
    m = X.shape[0]
    n = -(-m // batch)
    coefs = _coefs(net, optimizer, optimizer.t + 1, n)
    optimizer.t += n
    if order is not None:  # a host array: the compiled call moves it with its arguments (cheaper than a put first)
        order = order.astype(np.int32)
    net.params, optimizer.state, costs, values = compiled.epoch(list(net.params), state, coefs, X, Y, order,
                                                                sample_weight, masks, batch)
    return costs, values


def epoch_masks(net, m, batch):
    """The dropout keep-masks of an epoch of ``m`` rows in batches of ``batch``, drawn on the host from
    the network's dropout stream in the order the eager step draws them (batch by batch, layer by
    layer), as ``(full, last)``: per hidden layer a (full batches, batch, ⌈n/8⌉) and a (rows left, ⌈n/8⌉)
    uint8 device array of packed bits (``bpx.nn._dropout``; None where that layer has no dropout, or no
    such batch). None without dropout."""
    if not any(net.dropout):
        return None
    sizes = [batch] * (m // batch) + ([m % batch] if m % batch else [])
    drawn = [[draw_packed(net.rngs.dropout, rows, layer.n_out, p) if p else None
              for layer, p in zip(net.layers, net.dropout)] for rows in sizes]
    full = m // batch
    move = net.backend.transfer
    stack = [None if p == 0.0 or not full else move(np.stack([b[k] for b in drawn[:full]]))
             for k, p in enumerate(net.dropout)]
    last = [None if p == 0.0 or full == len(sizes) else move(drawn[-1][k]) for k, p in enumerate(net.dropout)]
    return tuple(stack), tuple(last)


def _coefs(net, optimizer, t0, n):
    """The optimizer's per-step coefficients of steps t0 .. t0+n-1, as an (n, k) host array in the
    network's dtype (moved to the device by the compiled call)."""
    if type(optimizer).coefficients is Optimizer.coefficients and not callable(optimizer.lr):  # a constant rate
        return np.full((n, 1), optimizer.lr, dtype=net.dtype)
    rows = [optimizer.coefficients(t) for t in range(t0, t0 + n)]
    return np.array(rows, dtype=net.dtype).reshape(n, -1)


class Compiled:
    """The compiled step and epoch of one (architecture, optimizer) pair."""

    _cache = collections.OrderedDict()

    @classmethod
    def get(cls, net, optimizer):
        # the activation and loss objects too: a user activation registered again under its name is new math
        math = tuple(id(layer.activation) for layer in net.layers) + (id(net.loss_fn),)
        key = (type(net), repr(net), math, str(net.backend.device), type(optimizer), optimizer.math_key())
        compiled = cls._cache.get(key)
        if compiled is None:
            compiled = cls._cache[key] = cls(net, optimizer)
            while len(cls._cache) > CACHE_SIZE:
                cls._cache.popitem(last=False)
        cls._cache.move_to_end(key)
        return compiled

    def __init__(self, net, optimizer):
        # private copies: the cache must hold neither the caller's arrays nor objects they may change
        self.net = copy.copy(net)
        self.net.params, self.net.optimizer = [], None
        self.optimizer = copy.copy(optimizer)
        self.optimizer.reset()
        library = net.backend.library
        self.library = library
        self.step = library.jit(self._step, donate_argnums=(0, 1))
        # the epoch keeps its input parameters (fit restores them if the epoch diverges) and donates the state
        self.epoch = library.jit(self._epoch, donate_argnums=(1,), static_argnums=(8,))

    def _step(self, params, state, coefs, X, Y):
        params, state, cost, _ = step(self.net, self.optimizer, params, state, tuple(coefs), X, Y)
        return params, state, cost

    def _batch(self, carry, batch):
        params, state = carry
        coefs, X, Y, w, keep = batch
        xp = self.net.backend.xp
        weights = None if w is None else normalized_weights(w, xp)
        masks = None
        if keep is not None:  # MLP.dropout_masks' arithmetic on the host-drawn packed keep-masks
            positions = bit_positions(xp, self.net.backend.device)
            masks = [None if k is None else
                     scale_keep(unpack_keep(k, layer.n_out, xp, positions), p, self.net.array_dtype, xp)
                     for k, p, layer in zip(keep, self.net.dropout, self.net.layers)] + [None]
        params, state, cost, A_L = step(self.net, self.optimizer, params, state, tuple(coefs), X, Y, weights=weights,
                                        masks=masks)
        return (params, state), (cost, self._correct(A_L, Y))

    def _correct(self, A_L, Y):
        net = self.net
        if net.is_classifier:
            return n_correct(net, A_L, Y)
        return net.backend.xp.zeros((), dtype=net.array_dtype, device=net.backend.device)

    def _epoch(self, params, state, coefs, X, Y, order, w, masks, batch):
        xp = self.net.backend.xp
        m = X.shape[0]
        if order is not None:  # the epoch's rows, gathered once
            X, Y = xp.take(X, order, axis=0), xp.take(Y, order, axis=0)
            w = None if w is None else xp.take(w, order, axis=0)
        full = m // batch
        costs, correct = [], []
        if full:
            rows = full * batch
            Xs = xp.reshape(X[:rows, :], (full, batch, X.shape[1]))
            Ys = xp.reshape(Y[:rows, :], (full, batch, Y.shape[1]))
            ws = None if w is None else xp.reshape(w[:rows], (full, batch))
            keep = None if masks is None else masks[0]
            (params, state), (c, k) = self.library.scan(self._batch, (params, state),
                                                        (coefs[:full, :], Xs, Ys, ws, keep))
            costs.append(c)
            correct.append(k)
        if m - full * batch:  # the last, shorter batch: one more step
            last = (coefs[full, :], X[full * batch:, :], Y[full * batch:, :], None if w is None else w[full * batch:],
                    None if masks is None else masks[1])
            (params, state), (c, k) = self._batch((params, state), last)
            costs.append(xp.reshape(c, (1,)))
            correct.append(xp.reshape(k, (1,)))
        costs = xp.concat(costs) if len(costs) > 1 else costs[0]
        correct = xp.sum(xp.concat(correct) if len(correct) > 1 else correct[0])
        device = self.net.backend.device
        sizes = xp.full(costs.shape, float(batch), dtype=costs.dtype, device=device)
        if m - full * batch:
            sizes = xp.concat([sizes[:-1], xp.full((1,), float(m - full * batch), dtype=costs.dtype, device=device)])
        finite = xp.all(xp.stack([xp.all(xp.isfinite(p)) for p in params]))
        values = xp.stack([xp.sum(costs * sizes), correct, xp.astype(finite, costs.dtype)])  # one read-back
        return params, state, costs, values
