"""The compiled engine (JAX): a whole epoch in one compiled call.

:func:`bpx.step.epoch` runs the epoch's full batches in one ``lax.scan`` and the last shorter batch
after it, with the optimizer's per-step coefficients, the sample weights and the dropout masks as
inputs: the shuffle and the masks are drawn on the host, from the same streams and in the same order
as the eager engine draws them, so the batches and masks are the same. A stop request is honoured
after the current compiled epoch; ``on_batch_end`` hooks are replayed after the epoch from its
per-batch costs. L-BFGS evaluates its cost and gradient with one compiled function.
"""

from __future__ import annotations

import copy

import numpy as np

from ...nn._functional import measure
from ...nn._losses import normalized_weights
from ...optimizers._lbfgs import Objective
from .._step import compiles, epoch_masks
from .._step import epoch as compiled_epoch
from ._eager import EagerEngine


class CompiledEngine(EagerEngine):
    """Whole epochs in one compiled call (see the module docstring); data and host syncs as eager."""

    name = "compiled"
    batch_hooks = "replayed"  # on_batch_end runs after the compiled epoch, from its per-batch costs

    def snapshot(self):
        return list(self.net.params)  # compiled epochs never overwrite their inputs

    def epoch(self, optimizer, data, batch, rng, position=None, stop=None, on_batch=None):
        if not compiles(self.net, optimizer):  # an optimizer with its own stateful step(): eager steps
            return super().epoch(optimizer, data, batch, rng, position, stop, on_batch)
        net = self.net
        m = data.m
        order = None if rng is None else rng.permutation(m)  # on the host
        masks = epoch_masks(net, m, batch)
        costs, values = compiled_epoch(net, optimizer, data.X, data.Y, order, batch, data.w, masks)
        if on_batch is not None:
            for k in range(costs.shape[0]):
                on_batch(k, min(batch, m - k * batch), costs[k])
        return costs, values, None

    def host_values(self, values, val):
        """As the eager engine's, for a compiled epoch's values: already one stacked device array."""
        if isinstance(values, list):  # the eager steps of an optimizer that does not compile
            return super().host_values(values, val)
        net = self.net
        if val is not None:
            values = net.backend.xp.concat([values, net.backend.xp.stack(measure(net, net.params, *val))])
        return [float(v) for v in net.backend.to_numpy(values)]

    def objective(self, data, weight_decay):
        weights = None if data.w is None else normalized_weights(data.w, self.net.backend.xp)
        return CompiledObjective(self.net, data.X, data.Y, weights, weight_decay)


class CompiledObjective(Objective):
    """L-BFGS's cost and gradient as one compiled function of (θ, d) (one dispatch and one host transfer
    per evaluation)."""

    def __init__(self, net, X, Y, weights, weight_decay):
        super().__init__(net, X, Y, weights, weight_decay)
        self._view = copy.copy(net)  # the compiled function's own network: the architecture, no arrays
        self._view.params, self._view.optimizer = [], None
        self._zeros = None
        self._compiled = net.backend.library.jit(self._evaluate)

    def _evaluate(self, theta, d, X, Y, weights):
        inner = copy.copy(self)  # the data as arguments, not constants baked into the compiled function
        inner.X, inner.Y, inner.weights = X, Y, weights
        return inner.evaluate(self._view, self.unflat(theta), theta, d)  # the parameters are tracers here

    def __call__(self, theta, d=None):
        self.net.params = self.unflat(theta)
        if d is None:  # gᵀd is not read without a direction: a zero direction keeps one compiled shape
            if self._zeros is None:
                self._zeros = self.net.backend.asarray(np.zeros(theta.shape[0]), self.net.dtype)
            d = self._zeros
        values, g, A_L = self._compiled(theta, d, self.X, self.Y, self.weights)
        return self.result(self.net.backend.to_numpy(values), g, A_L)
