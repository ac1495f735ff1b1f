"""The eager engine (numpy, cupy, torch, array_api_strict): one step per batch, from Python.

Each batch runs :func:`bpx.step.eager_step` (forward, BP1–BP4, the optimizer's rule; in place where
the library allows). The epoch's summary stays on the device until the loop's one host sync per
epoch. The engine can stop after any step (a stop request) and report where it stopped, and continue
an epoch from such a position, so a resumed run takes exactly the remaining steps.
"""

from __future__ import annotations

from ...data._adapter import as_data, as_sample_weight
from ...nn._functional import measure, n_correct, n_correct_batches
from ...nn._losses import normalized_weights
from ...optimizers._lbfgs import Objective
from .._step import EagerSteps

ACCURACY_CHUNK = 1 << 20  # correct predictions are counted once per this many output values (bounded memory)
GATHER_VALUES = 1 << 22  # a shuffled epoch gathers its rows this many values (X and Y) at a time, not per batch


class Data:
    """The training data as an engine holds it: X, Y, sample weights ``w`` (or None), ``val`` (a pair or
    None), ``m`` rows."""

    def __init__(self, X, Y, w, val):
        self.X, self.Y, self.w, self.val = X, Y, w, val
        self.m = X.shape[0]


class EagerEngine:
    """One step per batch on the network's device (see the module docstring)."""

    name = "eager"
    batch_hooks = "live"  # on_batch_end runs after each step

    def __init__(self, net):
        self.net = net

    # -- data ----------------------------------------------------------------------------------------
    def data(self, X, Y, sample_weight, validation_data, validation_split):
        """Checked device arrays; ``validation_split`` holds out a random fraction (the shuffle stream's
        next permutation; sample weights are split alike)."""
        net = self.net
        X, Y = as_data(net, X, Y)
        w = None if sample_weight is None else as_sample_weight(net, sample_weight, X.shape[0])
        val = as_data(net, *validation_data) if validation_data is not None else None
        if validation_split:
            m = X.shape[0]
            n_val = max(1, int(round(m * validation_split)))
            if n_val >= m:
                raise ValueError(f"validation_split={validation_split} leaves no training samples out of {m}")
            order = net.backend.asarray(net.rngs.shuffle.permutation(m))
            xp = net.backend.xp
            train, held = order[n_val:], order[:n_val]
            val = (xp.take(X, held, axis=0), xp.take(Y, held, axis=0))
            X, Y = xp.take(X, train, axis=0), xp.take(Y, train, axis=0)
            w = None if w is None else xp.take(w, train, axis=0)
        return Data(X, Y, w, val)

    # -- mini-batch epochs ---------------------------------------------------------------------------
    def snapshot(self):
        """The parameters the epoch starts from (restored if it diverges): copies, as steps update in place."""
        xp = self.net.backend.xp
        return [xp.asarray(p, copy=True) for p in self.net.params]

    def epoch(self, optimizer, data, batch, rng, position=None, stop=None, on_batch=None):
        """One epoch, one step per batch (fresh dropout masks per batch, drawn on the host). ``rng``: the
        shuffle stream (None: the rows in order). Returns ``(costs, values, None)``: the per-batch costs
        and the device values ``[summed cost, correct count, finite]``; or, when ``stop.signal`` is set
        after a step that is not the last, ``(None, None, position)``, the position to continue from
        (``position=`` of a later call, with ``rng`` in the state it had at this epoch's start)."""
        net = self.net
        xp, backend = net.backend.xp, net.backend
        X, Y, sample_weight = data.X, data.Y, data.w
        m = X.shape[0]
        order = None if rng is None else backend.asarray(rng.permutation(m))  # drawn on the host
        costs, correct = [], xp.zeros((), dtype=net.array_dtype, device=backend.device)
        first = 0
        if position is not None:
            costs = [backend.asarray(c, net.dtype) for c in position["costs"]]
            correct = backend.asarray(position["correct"], net.dtype)
            first = position["next"]
        outputs, rows = [], 0  # (A_L, Yb) of batches whose correct count is still to be taken
        # decided once per epoch, not per step: the step's own decisions (EagerSteps), what the loop counts
        step, classifier, dropout = EagerSteps(net, optimizer), net.is_classifier, any(net.dropout)
        chunk_rows = -(-ACCURACY_CHUNK // net.n_outputs)  # rows × outputs >= ACCURACY_CHUNK
        # a shuffled epoch gathers its rows in blocks of whole batches (one take per block, not per batch);
        # the batches are the same rows, so the same numbers
        block_rows = batch * max(1, GATHER_VALUES // (batch * (X.shape[1] + Y.shape[1])))
        start = stop_at = first
        for i in range(first, m, batch):
            j = min(i + batch, m)
            if order is None:
                Xb, Yb = X[i:j, :], Y[i:j, :]
                wb = None if sample_weight is None else sample_weight[i:j]
            else:
                if i >= stop_at:
                    start, stop_at = i, min(i + block_rows, m)
                    rows_in = order[start:stop_at]
                    Xg, Yg = xp.take(X, rows_in, axis=0), xp.take(Y, rows_in, axis=0)
                    wg = None if sample_weight is None else xp.take(sample_weight, rows_in, axis=0)
                Xb, Yb = Xg[i - start:j - start, :], Yg[i - start:j - start, :]
                wb = None if sample_weight is None else wg[i - start:j - start]
            cost, A_L = step(Xb, Yb, None if wb is None else normalized_weights(wb, xp),
                             net.dropout_masks(j - i) if dropout else None)
            costs.append(cost)  # weighted by the batch's size at the end of the epoch
            if classifier:
                # counted in chunks (one argmax over many batches is cheaper than one per batch);
                # A_L and Yb are never written to, so keeping them is safe
                outputs.append((A_L, Yb))
                rows += j - i
                if rows >= chunk_rows or j == m:
                    correct = correct + n_correct_batches(net, outputs)
                    outputs, rows = [], 0
            if on_batch is not None:
                on_batch(len(costs) - 1, j - i, cost)
            if stop.signal is not None and j < m:  # stopped inside the epoch: where to continue
                if outputs:
                    correct = correct + n_correct_batches(net, outputs)
                host = backend.to_numpy(xp.stack(costs + [correct]))
                return None, None, {"next": j, "costs": [float(c) for c in host[:-1]], "correct": float(host[-1])}
        finite = xp.all(xp.stack([xp.all(xp.isfinite(p)) for p in net.params]))
        sizes = [batch] * (len(costs) - 1) + [m - batch * (len(costs) - 1)]  # rows per batch: cost × rows = Σ loss
        summed = xp.sum(xp.stack(costs) * backend.asarray(sizes, net.dtype))
        return costs, [summed, correct, xp.astype(finite, net.array_dtype)], None

    def host_values(self, values, val):
        """The epoch's one host sync: ``values`` and, with validation data, its cost and correct count."""
        net = self.net
        xp = net.backend.xp
        if val is not None:
            values = [*values, *measure(net, net.params, *val)]
        return [float(v) for v in net.backend.to_numpy(xp.stack(values))]

    def finite(self, cost):
        return bool(self.net.backend.xp.isfinite(cost))

    # -- L-BFGS --------------------------------------------------------------------------------------
    def objective(self, data, weight_decay):
        """The full-batch cost and gradient for :class:`bpx.LBFGS` (one backprop per evaluation)."""
        weights = None if data.w is None else normalized_weights(data.w, self.net.backend.xp)
        return Objective(self.net, data.X, data.Y, weights, weight_decay)

    def lbfgs_entry(self, f_data, A_L, data):
        """A history entry for an accepted L-BFGS point (its accuracy and validation cost: one host sync)."""
        net = self.net
        entry = {"loss": f_data, "accuracy": None}
        values = []
        if net.is_classifier:
            values.append(n_correct(net, A_L, data.Y))
        if data.val is not None:
            values += measure(net, net.params, *data.val)
        if values:
            host = [float(v) for v in net.backend.to_numpy(net.backend.xp.stack(values))]
            if net.is_classifier:
                entry["accuracy"] = host.pop(0) / data.m
            if data.val is not None:
                entry["val_loss"] = host[0]
                entry["val_accuracy"] = host[1] / data.val[0].shape[0] if net.is_classifier else None
        return entry

    # -- checkpoints ---------------------------------------------------------------------------------
    def to_host(self, arrays):
        return [self.net.backend.to_numpy(a) for a in arrays]

    def host_rows(self, arrays, rows):
        """The rows ``rows`` of each array, gathered on the device and copied to the host (one index
        vector to the device, one small copy per array back)."""
        backend = self.net.backend
        index = backend.asarray(rows)
        return [backend.to_numpy(backend.xp.take(a, index, axis=0)) for a in arrays]

    def from_host(self, arrays):
        """Host arrays as fresh, writable device arrays of the network's dtype."""
        backend = self.net.backend
        return [backend.xp.asarray(backend.asarray(a, self.net.dtype), copy=True) for a in arrays]
