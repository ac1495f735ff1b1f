"""Dask execution: ``forward``, ``predict``, ``evaluate``, ``train_step`` and the per-chunk math that
``fit``'s distributed engine (:mod:`bpx.training.engines.distributed`) runs on dask arrays, data-parallel
over row chunks, on a ``dask.distributed`` cluster when a ``Client`` is active, else on Dask's local
scheduler.

The math is the network's own, never a copy: each row chunk runs the functional core's ``forward`` and ``backward``
(the Dense layers, the loss's BP1, BP2) on its rows inside one task, and returns its share of BP3/BP4's
sum over samples, ``m_c · ∂C_c/∂p`` (with its summed loss and correct count) as one small host row.
Dask adds those rows up in a tree reduction (fan-in :data:`SPLIT_EVERY`), so one step is

    one task per row chunk  ->  a tree of sums  ->  one (P + 2)-vector on the client  ->  Optimizer.step

with one graph execution (``dask.compute``) per step and nothing materialised as big as X: each task
holds one chunk's activations, the client holds the parameters (small host NumPy arrays). The
parameters reach the tasks as one flat vector per step, a key of the step's graph (so that a worker
lost mid-step costs a retry, never the fit). X (and the targets) are persisted once per ``fit`` when they take at
most :data:`PERSIST_FRACTION` of the cluster's memory (the local machine's available memory without a
Client), else streamed from their source (zarr, HDF5, .npy shards) at every step.

Batches. ``batch_size=None`` is one step over all chunks (the seeds' gradient descent); with
``shuffle=False`` the batches are ``X[i:i + batch_size]`` as everywhere else: both give the NumPy
backend's parameters (to rounding: ~1e-15 relative in float64). ``shuffle=True`` does not draw a global
permutation (a gather across the whole cluster per epoch); each epoch the network's host RNG first
permutes the order of the row chunks, then the rows within each chunk (one ``permutation`` per chunk, in
the new chunk order), and the batches are consecutive runs of that sequence, so a batch reads one or
two chunks. The same seed gives the same batches, run after run, whatever the cluster.

This module is host-side execution glue (it imports numpy and dask); the math stays in bpx.nn and
bpx.models, which import neither (docs/development/architecture.md, "The math never imports an array
library").

Input. X must be 2-D with known chunk sizes; several column chunks are rechunked to one (row chunks
kept). Host X is chunked by :func:`as_dask` (about :data:`CHUNK_BYTES` per chunk). Y may be host data
or a dask array whose row chunks equal X's (anything else is a ``ValueError`` saying how to rechunk).
Non-finite values, bad labels and the like are found in one pass over the chunks before the first
step; the network is untouched when anything is refused. ``validation_split`` holds out the rows
``MLP.fit`` holds out (one permutation from the network's host RNG), taken chunk by chunk in their
stored order (sorted indices: no shuffle across chunks).
"""

from __future__ import annotations

import copy
import math
import types

import array_api_compat
import dask
import dask.array as da
import numpy as np

from ...backends._backend import library_of, namespace, to_numpy
from ...data._adapter import as_inputs, as_targets
from ...data._dask_arrays import CHUNK_BYTES, as_dask, client, connect, default_rows, is_dask  # noqa: F401
from ...nn._functional import backward, measure, n_correct
from ...nn._functional import forward as forward_pass
from ._cluster import compute

SPLIT_EVERY = 8  # fan-in of the tree reduction of the per-chunk sums
PERSIST_FRACTION = 0.5  # persist X and Y when they take at most this share of the memory available


# -- the per-chunk math -------------------------------------------------------------------------------
class ChunkNet:
    """What the functional core reads from a network (:class:`bpx.nn._functional.Network`: layers,
    loss, output), without its arrays: :meth:`bind` gives it, per task, the namespace of a row chunk and
    the parameters unpacked from the step's flat vector. Small: it travels with every task.
    ``weighted``: the chunks get a column of sample weights; ``dropout``: the chunks get one keep-mask
    per hidden layer with dropout."""

    def __init__(self, net, weighted=False, dropout=False):
        self.layers, self.loss_fn, self.fused, self.output = net.layers, net.loss_fn, net.fused, net.output
        self.slices = net.slices  # each layer's parameters in the list (W, b or W alone)
        self.is_classifier = net.is_classifier
        self.shapes = net.param_shapes()
        self.n_values = sum(math.prod(s) for s in self.shapes)
        self.weighted = weighted
        self.dropout = list(net.dropout) if dropout else None
        self.backend = self.array_dtype = None  # set per chunk by bind

    def bind(self, flat, X):
        """``(view, params)``: a copy in X's namespace and dtype, and the parameters unpacked from the
        host vector ``flat``."""
        xp = namespace(X)
        if not array_api_compat.is_numpy_array(X):  # CuPy chunks (dask-cuda): the parameters follow the data
            flat = xp.asarray(flat)
        bound = copy.copy(self)
        bound.backend = types.SimpleNamespace(xp=xp, device=array_api_compat.device(X))
        bound.array_dtype = X.dtype
        params, start = [], 0
        for shape in self.shapes:
            size = math.prod(shape)
            params.append(xp.reshape(flat[start:start + size], shape))
            start += size
        return bound, params


def _host_row(xp, values):
    row = xp.reshape(xp.concat(values), (1, -1))
    return row if array_api_compat.is_numpy_array(row) else to_numpy(row)


def chunk_gradients(X, Y, *rest):
    """One row chunk's share of a step: the row ``[m_c·∂C_c/∂p for every parameter value...,
    m_c·C_c, correct_c]``. ``C_c`` is the chunk's mean loss, so ``m_c·∂C_c/∂p`` is BP3/BP4's sum over the
    chunk's samples; adding the rows of every chunk gives the batch's sums. ``rest`` is the chunk's
    sample-weight column (``math_.weighted``: then ``C_c`` is the chunk's weighted mean, the row is
    scaled by the chunk's weight ``W_c`` instead of ``m_c`` and ends with ``W_c``) and keep-masks
    (``math_.dropout``), then the parameter vector and ``math_``."""
    *blocks, flat, math_ = rest
    xp = namespace(X)
    m = X.shape[0]
    width = math_.n_values + (3 if math_.weighted else 2)
    if m == 0:
        return np.zeros((1, width), dtype=X.dtype)
    weights = masks = None
    scale = float(m)
    if math_.weighted:
        W = blocks.pop(0)
        total = xp.sum(W)
        weights = W / xp.maximum(total, float(xp.finfo(W.dtype).smallest_normal))  # losses.normalized_weights
        scale = total
    if math_.dropout is not None:
        keep = iter(blocks)
        masks = [xp.astype(next(keep), X.dtype) * (1.0 / (1.0 - p)) if p else None for p in math_.dropout] + [None]
    net, params = math_.bind(flat, X)
    A_L, caches = forward_pass(net, params, X, masks)
    cost, grads, _ = backward(net, params, A_L, caches, Y, weights, masks)
    correct = n_correct(net, A_L, Y) if math_.is_classifier else xp.zeros((), dtype=X.dtype)
    sums = [xp.reshape(g, (-1,)) * scale for g in grads]
    tail = [xp.reshape(cost * scale, (1,)), xp.reshape(xp.astype(correct, X.dtype), (1,))]
    if math_.weighted:
        tail.append(xp.reshape(total, (1,)))
    return _host_row(xp, sums + tail)


def chunk_measure(X, Y, flat, math_):
    """One row chunk's ``[m_c·C_c, correct_c]`` (the functional core's ``measure``: a forward pass)."""
    xp = namespace(X)
    if X.shape[0] == 0:
        return np.zeros((1, 2), dtype=X.dtype)
    if not bool(xp.all(xp.isfinite(X))):
        raise ValueError(f"X contains NaN or infinite values (in a row chunk of {X.shape[0]} rows)")
    cost, correct = measure(*math_.bind(flat, X), X, Y)
    return _host_row(xp, [xp.reshape(cost * float(X.shape[0]), (1,)), xp.reshape(xp.astype(correct, X.dtype), (1,))])


def reduce_chunks(function, X, Y, shared, math_, width, extra=()):
    """The lazy sum over row chunks of ``function``'s (1, width) rows: Dask's tree reduction. ``extra``:
    more arrays with X's row chunks (sample weights, keep-masks), handed to ``function`` after Y."""
    parts = da.map_blocks(function, X, Y, *extra, shared, math_, chunks=((1,) * X.numblocks[0], (width,)),
                          dtype=X.dtype, meta=np.empty((0, 0), dtype=X.dtype))
    return parts.sum(axis=0, split_every=SPLIT_EVERY)


def share(net):
    """The parameters as one flat host vector, one key of the step's graph that every chunk task reads.

    A key of the graph, not data scattered to the workers: the scheduler can always recompute it, so a
    worker lost mid-step costs a retry, never the fit (scattered data has no recipe: losing its holder
    cancels the step). The vector passes through the scheduler once per step (P values)."""
    flat = np.concatenate([np.reshape(p if array_api_compat.is_numpy_array(p) else to_numpy(p), -1)
                           for p in net.params])
    return dask.delayed(flat, pure=False)


# -- checking and preparing the data ------------------------------------------------------------------
def host_twin(net):
    """The network on the host library (NumPy): what the per-chunk tasks of forward/predict/evaluate and
    the target encoding call. Parameters are copied; the optimizer is not. A dask X holds the network's
    own features (bpx.data._model_inputs), so the twin leaves out the table preprocessing the model
    carries: its chunk tasks must not apply it a second time."""
    twin = net.copy(backend="numpy")
    twin.metadata.pop("preprocessing", None)
    return twin


def _twin_for(twin, X):
    """``twin`` on X's library when the chunks are not NumPy (CuPy under dask-cuda)."""
    if array_api_compat.is_numpy_array(X):
        return twin
    return twin.copy(backend=library_of(X).name)


def features(net, twin, X, name="X"):
    """X checked up front (shape, dtype, columns: as_matrix's messages), cast to the network's dtype."""
    X = as_dask(X, name=name)
    if X.ndim != 2:  # as_matrix's message, from a read-only view of zeros of X's shape (no memory)
        as_inputs(twin, np.broadcast_to(np.zeros((), dtype=X.dtype), X.shape), name)
        raise ValueError(f"{name} must be 2-D (samples, features), got shape {X.shape}")
    as_inputs(twin, np.zeros((1, X.shape[1]), dtype=X.dtype), name)  # dtype and width, with as_matrix's messages
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples (shape {X.shape})")
    return X.astype(net.dtype) if X.dtype != np.dtype(net.dtype) else X


def targets(twin, Y, X, name="Y", encode=True):
    """Y as a dask array with X's row chunks: one-hot (m, n_out) targets when ``encode`` (the network's
    ``_Y``, run per chunk: bad labels surface in the first pass over the data), else as given."""
    if Y is None:
        raise TypeError(f"{name} must be an array of targets, got None")
    m, rows = X.shape[0], X.chunks[0]
    if is_dask(Y):
        Y = as_dask(Y, name=name)
        if Y.ndim not in (1, 2):
            raise ValueError(f"{name} must be labels (m,) or targets (m, k), got shape {Y.shape}")
        if Y.shape[0] != m:
            raise ValueError(f"{name} has {Y.shape[0]} samples but X has {m}")
        if Y.chunks[0] != rows:
            raise ValueError(f"{name}'s row chunks {Y.chunks[0]} differ from X's {rows}; chunk both alike, "
                             f"e.g. {name} = {name}.rechunk({{0: X.chunks[0]}})")
    else:
        host = np.asarray(Y)
        if host.ndim not in (1, 2):
            raise ValueError(f"{name} must be labels (m,) or targets (m, k), got shape {host.shape}")
        if host.shape[0] != m:
            raise ValueError(f"{name} has {host.shape[0]} samples but X has {m}")
        Y = da.from_array(host, chunks=(rows,) + ((-1,) if host.ndim == 2 else ()))
    probe = np.zeros((1,) + Y.shape[1:], dtype=Y.dtype)
    as_targets(twin, probe, 1, name)  # dtype, width and shape errors now, with the network's messages
    if not encode:
        return Y
    n_out = twin.n_outputs
    return Y.map_blocks(_encode_chunk, twin, name, chunks=(rows, (n_out,)), new_axis=[1] if Y.ndim == 1 else None,
                        dtype=np.dtype(twin.dtype), meta=np.empty((0, 0), dtype=twin.dtype))


def _encode_chunk(Y, twin, name):
    return as_targets(twin, Y, Y.shape[0], name) if Y.shape[0] else np.zeros((0, twin.n_outputs), dtype=twin.dtype)


def _nonfinite_chunks(X):
    """One flag per row chunk: 1 where the chunk holds NaN or an infinity (each chunk checked alone)."""
    return X.map_blocks(lambda c: np.reshape(not bool(namespace(c).all(namespace(c).isfinite(c))), (1, 1)),
                        chunks=((1,) * X.numblocks[0], (1,)), dtype=bool, meta=np.empty((0, 0), dtype=bool))


def _fits_in_memory(nbytes):
    c = client()
    if c is not None:
        workers = c.scheduler_info(n_workers=-1)["workers"].values()
        total = sum(w.get("memory_limit") or 0 for w in workers)
    else:
        import psutil

        total = psutil.virtual_memory().available
    return nbytes <= PERSIST_FRACTION * total


def prepare(pairs):
    """Persist the (X, Y) pairs when they fit in memory, then one pass over every chunk: non-finite
    values in X, and the targets' encoding (labels in range, finite) in Y. Returns the pairs to use."""
    if _fits_in_memory(sum(X.nbytes + Y.nbytes for X, Y, _ in pairs)):
        flat = dask.persist(*[a for X, Y, _ in pairs for a in (X, Y)])
        pairs = [(flat[2 * i], flat[2 * i + 1], name) for i, (_, _, name) in enumerate(pairs)]
    flags = compute([(_nonfinite_chunks(X), _nonfinite_chunks(Y)) for X, Y, _ in pairs])
    for (X, _, (xname, _)), (x_bad, _) in zip(pairs, flags):
        bad = np.flatnonzero(x_bad[:, 0])
        if bad.size:
            c = int(bad[0])
            start = sum(X.chunks[0][:c])
            raise ValueError(f"{xname} contains NaN or infinite values (row chunk {c}: rows {start}.."
                             f"{start + X.chunks[0][c] - 1})")
    return pairs


# -- public entry points (MLP dispatches here for dask arrays) ---------------------------------------------
def forward(net, X, method="forward"):
    """``net.forward(X)`` (or ``predict``/``predict_proba``) as a lazy dask array, one task per row chunk."""
    twin = host_twin(net)
    X = features(net, twin, X)
    sample = getattr(twin, method)(np.zeros((1, X.shape[1]), dtype=net.dtype))
    if sample.ndim == 1:
        return X.map_blocks(_apply_chunk, twin, method, drop_axis=1, chunks=(X.chunks[0],), dtype=sample.dtype,
                            meta=np.empty((0,), dtype=sample.dtype))
    return X.map_blocks(_apply_chunk, twin, method, chunks=(X.chunks[0], (sample.shape[1],)), dtype=sample.dtype,
                        meta=np.empty((0, 0), dtype=sample.dtype))


def _apply_chunk(X, twin, method):
    return getattr(_twin_for(twin, X), method)(X)


def evaluate(net, X, Y):
    """``{"loss", "accuracy"}`` over a dask X (and Y), computed chunk by chunk in one graph execution."""
    twin = host_twin(net)
    X = features(net, twin, X)
    Y = targets(twin, Y, X)
    return evaluate_prepared(net, X, Y)


def measure_graph(net, X, Y, flat=None):
    """The graph of ``[summed cost, correct count]`` of ``net`` (or of the flat parameters ``flat``) over
    a prepared X, Y, chunk by chunk."""
    return reduce_chunks(chunk_measure, X, Y, share(net) if flat is None else flat, ChunkNet(net), 2)


def evaluate_prepared(net, X, Y, flat=None):
    m = X.shape[0]
    cost, correct = (float(v) for v in compute(measure_graph(net, X, Y, flat)))
    result = {"loss": cost / m}
    if net.is_classifier:
        result["accuracy"] = correct / m
    return result


def loss_and_grads(net, X, Y, dropout=False):
    """``(cost, grads)`` on a dask X: one step's sums (no update), the gradients on the network's backend.
    ``dropout``: with the network's dropout masks (drawn on the host, as ``MLP.dropout_masks`` draws a
    batch's), as a training step sees it."""
    twin = host_twin(net)
    X = features(net, twin, X)
    ((X, Y, _),) = prepare([(X, targets(twin, Y, X), ("X", "Y"))])
    dropout = dropout and any(net.dropout)
    math_ = ChunkNet(net, dropout=dropout)
    extra = [da.from_array(net.rngs.dropout.random((X.shape[0], layer.n_out)) >= p, chunks=(X.chunks[0], -1))
             for layer, p in zip(net.layers, net.dropout) if p] if dropout else []
    sums = compute(reduce_chunks(chunk_gradients, X, Y, share(net), math_, math_.n_values + 2, extra))
    grads = [net.backend.asarray(g, net.dtype) for g in unflatten(sums[:-2] / X.shape[0], math_.shapes)]
    return float(sums[-2]) / X.shape[0], grads


def train_step(net, X, Y, optimizer):
    """``MLP.train_step`` on a dask X: one update on exactly this batch (with fresh dropout masks); the
    cost before it."""
    cost, grads = loss_and_grads(net, X, Y, dropout=True)
    net.params = optimizer.step(net.params, grads)
    return cost


def unflatten(flat, shapes):
    out, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        out.append(np.reshape(flat[start:start + size], shape))
        start += size
    return out


def batches(arrays, batch, rng):
    """The epoch's batches of ``arrays`` (X, Y and any other arrays with X's row chunks): the arrays
    themselves (full batch), consecutive slices, or with ``rng`` the chunk-order + within-chunk
    permutation scheme of the module docstring."""
    m = arrays[0].shape[0]
    if batch >= m:
        yield list(arrays)
        return
    if rng is None:
        for i in range(0, m, batch):
            yield [a[i:i + batch] for a in arrays]
        return
    sizes = arrays[0].chunks[0]
    pieces, need = [], batch
    for c in rng.permutation(len(sizes)):
        perm = rng.permutation(sizes[c])
        pos = 0
        while pos < len(perm):
            take = perm[pos:pos + need]
            pieces.append((int(c), np.sort(take)))
            pos += len(take)
            need -= len(take)
            if need == 0:
                yield _gather(arrays, pieces)
                pieces, need = [], batch
    if pieces:
        yield _gather(arrays, pieces)


def _gather(arrays, pieces):
    """Rows ``idx`` of chunk ``c`` for every (c, idx): one task per piece, on the worker holding the chunk."""
    if len(pieces) == 1:
        c, idx = pieces[0]
        return [a.blocks[c][idx] for a in arrays]
    return [da.concatenate([a.blocks[c][idx] for c, idx in pieces], axis=0) for a in arrays]

