"""The distributed engine (Dask): one graph per step over the row chunks (:mod:`bpx.distributed`).

Each step is one ``dask.compute`` of a tree reduction of per-chunk gradient sums; the parameters and
the optimizer live on the client (host NumPy arrays) and are updated there. Sample weights travel as a
column chunked like X, dropout keep-masks (drawn on the host per batch, in the eager engine's order)
as arrays chunked like the batch, so both work on dask arrays. L-BFGS evaluates its cost and gradient
with one graph per evaluation: the classic data-parallel full-batch method. The engine can stop after
any step and continue an epoch from that position, as the eager engine does; on a dask.distributed
client a step that a stop request, a lost scheduler or a cluster without workers holds up is given up
or reported (:mod:`bpx.training.engines._cluster`).
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np

from ...data._adapter import as_sample_weight
from ...optimizers._lbfgs import Objective
from .._stop import STOP, StepAbandoned
from ._cluster import compute
from ._dask_math import (
    ChunkNet,
    batches,
    chunk_gradients,
    evaluate_prepared,
    features,
    host_twin,
    is_dask,
    measure_graph,
    prepare,
    reduce_chunks,
    share,
    targets,
    unflatten,
)


class DistributedEngine:
    """Data-parallel steps over dask arrays' row chunks (see the module docstring)."""

    name = "distributed"
    batch_hooks = "live"  # each step is one graph; on_batch_end runs after it

    def __init__(self, net):
        self.net = net

    # -- data ----------------------------------------------------------------------------------------
    def data(self, X, Y, sample_weight, validation_data, validation_split):
        """X, Y (and validation data) checked in one pass over the chunks and persisted when they fit
        in memory; sample weights as a host-checked column with X's row chunks. ``validation_split``
        holds out the rows the eager engine holds out (one permutation of the shuffle stream), taken
        chunk by chunk in their stored order."""
        net = self.net
        twin = host_twin(net)
        X = features(net, twin, X)
        pairs = [(X, targets(twin, Y, X), ("X", "Y"))]
        w = None
        if sample_weight is not None:
            host = sample_weight.compute() if is_dask(sample_weight) else sample_weight
            w = np.asarray(net.backend.to_numpy(as_sample_weight(net, host, X.shape[0])))
        if validation_data is not None:
            X_val = features(net, twin, validation_data[0])
            pairs.append((X_val, targets(twin, validation_data[1], X_val), ("X", "Y")))
        elif validation_split:
            m = X.shape[0]
            n_val = max(1, int(round(m * validation_split)))
            if n_val >= m:
                raise ValueError(f"validation_split={validation_split} leaves no training samples out of {m}")
            order = net.rngs.shuffle.permutation(m)
            train, held = np.sort(order[n_val:]), np.sort(order[:n_val])
            (X, Y, names) = pairs[0]
            pairs = [(X[train], Y[train], names), (X[held], Y[held], names)]
            w = None if w is None else w[train]
        pairs = prepare(pairs)
        (X, Y, _), val = pairs[0], (pairs[1][:2] if len(pairs) > 1 else None)
        if w is not None:
            w = da.from_array(w.reshape(-1, 1).astype(net.dtype), chunks=(X.chunks[0], (1,)))
        data = _Data(X, Y, w, val)
        return data

    # -- mini-batch epochs ---------------------------------------------------------------------------
    def snapshot(self):
        xp = self.net.backend.xp
        return [xp.asarray(p, copy=True) for p in self.net.params]

    def epoch(self, optimizer, data, batch, rng, position=None, stop=None, on_batch=None):
        """One epoch, one graph per step; returns ``(costs, values, None)`` (host values ``[summed cost,
        correct count, finite]``), or ``(None, None, position)`` when stopped inside the epoch (the
        batches are drawn again from ``rng`` at its epoch-start state and the first ones skipped)."""
        net = self.net
        xp = net.backend.xp
        weighted = data.w is not None
        dropout = any(net.dropout)
        math_ = ChunkNet(net, weighted=weighted, dropout=dropout)
        width = math_.n_values + (3 if weighted else 2)
        costs, correct, summed, first = [], 0.0, 0.0, 0
        if position is not None:
            costs = [net.backend.asarray(c, net.dtype) for c in position["costs"]]
            correct, summed, first = position["correct"], position["summed"], position["next_batch"]
        arrays = [data.X, data.Y] + ([data.w] if weighted else [])
        m = data.m

        def stopped_at(next_batch):  # where a resume continues: the batch, and the epoch's sums so far
            return None, None, {"next_batch": next_batch, "costs": [float(c) for c in costs], "correct": correct,
                                "summed": summed}
        for k, batch_arrays in enumerate(batches(arrays, batch, rng)):
            if k < first:
                continue  # replayed to draw the same batches; no work
            Xb, Yb = batch_arrays[:2]
            rows = Xb.shape[0]
            masks_from = net.rngs.dropout.bit_generator.state if dropout else None
            extra = batch_arrays[2:] + (self._masks(Xb) if dropout else [])
            sums = compute(reduce_chunks(chunk_gradients, Xb, Yb, share(net), math_, width, extra), stop)
            if sums is None:  # given up (a stop request, a lost scheduler): continue later from this batch
                if dropout:
                    net.rngs.dropout.bit_generator.state = masks_from
                return stopped_at(k)
            if weighted:  # Σ w·∂L/∂p, Σ w·L, correct, Σ w: the batch's weighted means
                total = max(float(sums[-1]), float(np.finfo(sums.dtype).smallest_normal))
                flat, cost, hits = sums[:-3] / total, sums[-3] / total, sums[-2]
                summed += float(cost) * rows
            else:
                flat, cost, hits = sums[:-2] / rows, sums[-2] / rows, sums[-1]
                summed += float(sums[-2])
            grads = unflatten(flat, math_.shapes)
            net.params = optimizer.step(net.params, [net.backend.asarray(g, net.dtype) for g in grads])
            costs.append(net.backend.asarray(cost, net.dtype))
            correct += float(hits)
            if on_batch is not None:
                on_batch(k, rows, costs[-1])
            if stop.signal is not None and k < -(-m // batch) - 1:
                return stopped_at(k + 1)
        finite = xp.all(xp.stack([xp.all(xp.isfinite(p)) for p in net.params]))
        values = [summed, correct, float(finite)]
        if data.val is not None:  # in the steps' watched wait: a cluster without workers warns, a stop stops
            measured = compute(measure_graph(net, *data.val), stop)
            if measured is None:  # given up: a resume replays no step and measures again
                return stopped_at(-(-m // batch))
            values += [float(measured[0]) / data.val[0].shape[0], float(measured[1])]
        return costs, values, None

    def _masks(self, Xb):
        """The batch's keep-masks, drawn on the host (as ``MLP.dropout_masks`` draws them), chunked like Xb."""
        net = self.net
        rows = Xb.shape[0]
        return [da.from_array(net.rngs.dropout.random((rows, layer.n_out)) >= p, chunks=(Xb.chunks[0], -1))
                for layer, p in zip(net.layers, net.dropout) if p]

    def host_values(self, values, val):
        """The epoch's host numbers (through the network's dtype, as the eager engine reads them), then
        the validation cost and correct count that :meth:`epoch` measured (one more graph, ``val`` given)."""
        return [float(v) for v in np.asarray(values[:3], dtype=self.net.dtype)] + [float(v) for v in values[3:]]

    def finite(self, cost):
        return bool(np.isfinite(cost))

    # -- L-BFGS --------------------------------------------------------------------------------------
    def objective(self, data, weight_decay):
        return DistributedObjective(self.net, data, weight_decay)

    def lbfgs_entry(self, f_data, correct, data):
        net = self.net
        entry = {"loss": f_data, "accuracy": correct / data.m if net.is_classifier else None}
        if data.val is not None:
            measured = evaluate_prepared(net, data.val[0], data.val[1])
            entry["val_loss"] = measured["loss"]
            entry["val_accuracy"] = measured.get("accuracy")
        return entry

    # -- checkpoints ---------------------------------------------------------------------------------
    def to_host(self, arrays):
        return [np.array(a, copy=True) for a in arrays]

    def from_host(self, arrays):
        return [np.array(a, dtype=self.net.dtype, copy=True) for a in arrays]

    def host_rows(self, arrays, rows):
        """The rows ``rows`` of each dask array, in one small graph (it reads only the chunks that hold
        those rows, never gathers the whole array), waited on as every graph of the engine is."""
        return [np.asarray(a) for a in compute([a[rows] for a in arrays])]


class _Data:
    def __init__(self, X, Y, w, val):
        self.X, self.Y, self.w, self.val = X, Y, w, val
        self.m = X.shape[0]


class DistributedObjective(Objective):
    """L-BFGS's full-batch cost and gradient as one Dask graph per evaluation (the per-chunk sums of
    :func:`bpx.training.engines._dask_math.chunk_gradients`), on the client's host parameters."""

    def __init__(self, net, data, weight_decay):
        super().__init__(net, data.X, data.Y, data.w, weight_decay)
        self.data = data
        self.math = ChunkNet(net, weighted=data.w is not None)

    def __call__(self, theta, d=None):
        xp, data = self.xp, self.data
        self.net.params = self.unflat(theta)
        weighted = data.w is not None
        width = self.math.n_values + (3 if weighted else 2)
        extra = [data.w] if weighted else []
        sums = compute(reduce_chunks(chunk_gradients, data.X, data.Y, dask.delayed(theta, pure=False),
                                     self.math, width, extra), STOP)
        if sums is None:  # given up (a stop request, a lost scheduler): the iteration does not happen
            raise StepAbandoned
        rows = float(sums[-1]) if weighted else float(data.m)
        if weighted:
            sums = sums[:-1]
        g = sums[:-2] / max(rows, float(np.finfo(sums.dtype).smallest_normal))
        cost = sums[-2] / max(rows, float(np.finfo(sums.dtype).smallest_normal))
        total = cost
        if self.wd:
            dec = self.decay * theta
            total = cost + (0.5 * self.wd) * xp.sum(dec * theta)
            g = g + self.wd * dec
        gtd = xp.sum(g * d) if d is not None else 0.0
        host = np.array([float(total), float(cost), float(gtd), float(xp.max(xp.abs(g)))])
        return self.result(host, g, float(sums[-1]))
