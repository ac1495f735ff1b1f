"""The training loop, written once: ``MLP.fit`` on every engine, with every optimizer.

The loop owns what every run shares: the epochs and the host-drawn shuffle stream, validation (by
data or by split), early stopping (:class:`bpx.EarlyStopping`), catching divergence and restoring the
last good parameters, History (appended in exactly one place, :func:`fit`), the progress bar,
callbacks, checkpoints and stop requests (:func:`bpx.training.stop_on_signals`). An engine
(:mod:`bpx.training.engines`) supplies only how an epoch's steps run and how state moves between host
and device. Two methods use the engines:

- mini-batch (``bpx.SGD``, ``bpx.Adam``, ...): an epoch is one pass over the batches;
- full batch (``bpx.LBFGS``): an epoch is one L-BFGS iteration, whose cost evaluations the engine
  computes (one backprop eagerly, one compiled call on JAX, one graph on Dask).

Checkpoints (``checkpoint=PATH``) hold everything the rest of the run depends on (see
:mod:`bpx.training.checkpoint`), so a run killed at any moment and resumed with ``resume=True`` ends
with the parameters and History of an uninterrupted run, bit for bit.
"""

from __future__ import annotations

import contextlib
import os

from ..callbacks._callback import as_callbacks
from ..callbacks._early_stopping import EarlyStopping
from ..errors import TrainingDiverged
from ..optimizers._first_order import Adam
from ..optimizers._lbfgs import LBFGS
from ..utils._validation import check_bool, check_float, check_int
from . import _checkpoint as ckpt
from ._history import History
from ._progress import Progress
from ._step import check_optimizer
from ._stop import STOP
from .engines import engine_for


def fit(net, X, Y, epochs=1, batch_size=None, optimizer=None, shuffle=True, validation_data=None, verbose=1,
        validation_split=0.0, early_stopping=None, sample_weight=None, callbacks=None, checkpoint=None,
        checkpoint_every=1, resume=False):
    """Train ``net``; the implementation of :meth:`bpx.MLP.fit` (see there for the arguments).

    Returns
    -------
    History
        One entry per epoch run (with ``resume=True``: the whole run's, from its first epoch).

    Raises
    ------
    TypeError, ValueError
        For bad arguments, before any work (the network and files untouched).
    bpx.training.checkpoint.CheckpointError
        For a checkpoint that cannot be resumed (unreadable, or of another run: what differs is named).
    TrainingDiverged
        When the loss or a parameter becomes NaN or infinite (the epoch's starting parameters restored).
    """
    # -- every option checked before any work -----------------------------------------------------------
    epochs = check_int(epochs, "epochs")
    optimizer = optimizer if optimizer is not None else (net.optimizer or Adam())
    check_optimizer(optimizer, net)
    full_batch = isinstance(optimizer, LBFGS)
    if batch_size is not None:
        if full_batch:
            raise ValueError(f"bpx.LBFGS trains on the full batch: batch_size must be None, got {batch_size!r}")
        batch_size = check_int(batch_size, "batch_size")
    shuffle = check_bool(shuffle, "shuffle")
    verbose = check_int(verbose, "verbose", minimum=0)
    validation_split = check_float(validation_split, "validation_split", low=0.0, high=1.0, high_open=True)
    if early_stopping is not None:
        early_stopping = check_int(early_stopping, "early_stopping")
    if validation_data is not None and validation_split:
        raise ValueError("give validation_data or validation_split, not both")
    if validation_data is not None and (not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2):
        raise TypeError("validation_data must be a pair (X_val, Y_val)")
    cbs = as_callbacks(callbacks)
    if early_stopping is not None:
        cbs.insert(0, EarlyStopping(early_stopping))
    path = _checkpoint_path(checkpoint)
    checkpoint_every = check_int(checkpoint_every, "checkpoint_every")
    resume = check_bool(resume, "resume")
    if resume and path is None:
        raise ValueError("resume=True needs checkpoint=PATH (the file to resume from)")
    engine = engine_for(net, X)
    saved = None
    if resume and os.path.exists(path):
        saved = ckpt.read(path)
    stream = net._shuffle_rng.bit_generator.state
    try:
        if saved is not None:  # the split is drawn again from the stream's state at the run's start
            net._shuffle_rng.bit_generator.state = saved[1]["rng"]["fit_start"]
        fit_start = net._shuffle_rng.bit_generator.state if path is not None else None
        data = engine.data(X, Y, sample_weight, validation_data, validation_split)
        m = data.m
        batch = m if full_batch else min(batch_size or m, m)
        identity = _identity(net, engine, optimizer, batch_size, m) if path is not None else None
        if saved is not None:
            ckpt.check_identity(path, saved[0], identity)
    except BaseException:
        net._shuffle_rng.bit_generator.state = stream  # refused: the network as it was
        raise

    # -- the run ------------------------------------------------------------------------------------------
    net.optimizer = optimizer
    history = History()
    for cb in cbs:
        cb.model, cb.history, cb.stop_training = net, history, False
    method = (FullBatch if full_batch else MiniBatch)(engine, optimizer, data, batch, shuffle, epochs)
    done, position, finished = 0, None, False
    if saved is not None:
        state = saved[1]
        net._params = engine.from_host(state["params"])
        optimizer.load_state_dict(state["optimizer"], lambda a: engine.from_host([a])[0])
        net._shuffle_rng.bit_generator.state = state["rng"]["shuffle"]
        net._dropout_rng.bit_generator.state = state["rng"]["dropout"]
        history.load_state_dict(state["history"])
        done, finished, position = state["epoch"], state["finished"], state["position"]
        history.resumed_from = done
    batch_hooks = [cb for cb in cbs if callable(getattr(cb, "on_batch_end", None))]
    on_batch = None
    if batch_hooks:
        def on_batch(k, rows, cost):
            logs = {"size": rows, "loss": cost}
            for cb in batch_hooks:
                cb.on_batch_end(k, logs)
    logs = {"epochs": epochs, "resumed_from": history.resumed_from}
    with net.backend.quiet_float_errors(), contextlib.closing(Progress(epochs, verbose, done)) as progress:
        for cb in cbs:
            cb.on_train_begin(logs)
        if saved is not None:  # matched by class name and order; a callback new to the run starts fresh
            states = {entry["type"]: entry["state"] for entry in saved[1]["callbacks"]}
            for key, cb in _keyed(cbs):
                if key in states:
                    cb.load_state_dict(states[key])
        try:
            method.begin(saved is not None)
            epoch = done
            while not finished and epoch < epochs:
                epoch += 1
                for cb in cbs:
                    cb.on_epoch_begin(epoch)
                epoch_start = net._shuffle_rng.bit_generator.state if path is not None else None
                if position is not None:  # resuming inside this epoch: the stream as it was at its start
                    epoch_start = net._shuffle_rng.bit_generator.state = position["rng"]
                entry, partial = method.epoch(epoch, position, on_batch)
                position = None
                if partial is not None:  # stopped inside the epoch on request
                    if path is not None:
                        partial["rng"] = epoch_start
                        _write(path, identity, net, engine, optimizer, method, history, cbs, epoch - 1, False, fit_start,
                               partial)
                    break
                if entry is None:  # L-BFGS took no step (converged, or cannot go on)
                    finished = True
                    if path is not None:
                        _write(path, identity, net, engine, optimizer, method, history, cbs, epoch - 1, True, fit_start)
                    break
                history.append(**entry)  # the one place the History grows
                progress.update(epoch, entry)
                logs = dict(entry)
                stops = [cb.on_epoch_end(epoch, logs) is True for cb in cbs]
                finished = any(stops) or any(cb.stop_training for cb in cbs) or method.done
                if path is not None and (epoch % checkpoint_every == 0 or finished or epoch == epochs
                                         or STOP.signal is not None):
                    _write(path, identity, net, engine, optimizer, method, history, cbs, epoch, finished, fit_start)
                if STOP.signal is not None and not finished and epoch < epochs:
                    break
        finally:
            method.end()
        if STOP.signal is not None:  # consumed: the run stopped early on it, or had just finished
            if len(history) < epochs and not finished:
                history.interrupted = STOP.signal
            STOP.signal = None
        for cb in cbs:
            cb.on_train_end(logs)
    return history


def _checkpoint_path(path):
    if path is None:
        return None
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"checkpoint must be a file path (str or os.PathLike), got {type(path).__name__}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path) or not os.path.isdir(folder):
        raise ValueError(f"checkpoint={path!r} must be a file in an existing folder")
    return path


def _identity(net, engine, optimizer, batch_size, m):
    """What a resumed run must share with the checkpoint's (JSON values)."""
    return {
        "engine": engine.name,
        "architecture": {"layer_sizes": list(net.layer_sizes), "activation": net.activation, "output": net.output,
                         "loss": net.loss_name, "bias": net.bias, "dropout": list(net.dropout)},
        "dtype": net.dtype,
        "precision": getattr(net, "precision", None),
        "optimizer": repr(optimizer),
        "batch_size": batch_size,
        "rows": m,
    }


def _keyed(cbs):
    """``(key, callback)``: the key is the class name, with ``#k`` for the k-th repeat of a class."""
    seen = {}
    for cb in cbs:
        name = type(cb).__name__
        seen[name] = seen.get(name, 0) + 1
        yield (name if seen[name] == 1 else f"{name}#{seen[name]}"), cb


def _write(path, identity, net, engine, optimizer, method, history, cbs, epoch, finished, fit_start, position=None):
    method.before_checkpoint()
    state = {
        "epoch": epoch,
        "finished": finished,
        "params": engine.to_host(net._params),
        "optimizer": optimizer.state_dict(),
        "rng": {"shuffle": net._shuffle_rng.bit_generator.state, "dropout": net._dropout_rng.bit_generator.state,
                "fit_start": fit_start},
        "history": history.state_dict(),
        "callbacks": [{"type": key, "state": cb.state_dict()} for key, cb in _keyed(cbs)],
        "position": position,
    }
    if position is not None:
        position["start"] = engine.to_host(position["start"])
    ckpt.write(path, identity, state)


class MiniBatch:
    """Epochs of mini-batch steps (any optimizer with a per-batch rule)."""

    done = False

    def __init__(self, engine, optimizer, data, batch, shuffle, epochs):
        self.engine, self.optimizer, self.data, self.batch = engine, optimizer, data, batch
        self.shuffle = shuffle and batch < data.m

    def begin(self, resumed):
        pass

    def epoch(self, epoch, position, on_batch):
        """Run one epoch; returns ``(entry, None)``, or ``(None, partial)`` when stopped inside it."""
        engine, net, data = self.engine, self.engine.net, self.data
        rng = net._shuffle_rng if self.shuffle else None
        if position is None:
            start = engine.snapshot()
        else:
            start = engine.from_host(position["start"])
        costs, values, partial = engine.epoch(self.optimizer, data, self.batch, rng, position, STOP, on_batch)
        if partial is not None:
            partial["start"] = start
            return None, partial
        host = engine.host_values(values, data.val)
        loss, acc, ok = host[:3]
        if not (ok and loss == loss and abs(loss) != float("inf")):
            bad = next((k for k, c in enumerate(costs) if not engine.finite(c)), len(costs) - 1)
            net._params = start
            raise TrainingDiverged(
                f"training diverged in epoch {epoch}, batch {bad + 1} of {len(costs)} (batch_size {self.batch}): "
                f"the loss or a parameter became NaN or infinite. The parameters from the end of epoch "
                f"{epoch - 1} were restored; try a smaller learning rate."
            )
        m = data.m
        entry = {"loss": loss / m, "accuracy": acc / m if net.is_classifier else None}
        if data.val is not None:
            entry["val_loss"] = host[3]
            entry["val_accuracy"] = host[4] / data.val[0].shape[0] if net.is_classifier else None
        return entry, None

    def before_checkpoint(self):
        pass

    def end(self):
        pass


class FullBatch:
    """L-BFGS: one epoch is one iteration; the engine evaluates the full-batch cost and gradient."""

    def __init__(self, engine, optimizer, data, batch, shuffle, epochs):
        self.engine, self.optimizer, self.data, self.epochs = engine, optimizer, data, epochs
        self.obj = None
        self.done = False

    def begin(self, resumed):
        net, opt = self.engine.net, self.optimizer
        start = list(net._params)
        self.obj = self.engine.objective(self.data, opt.weight_decay)
        if resumed:
            self.obj.count = opt.n_fun
            opt.resume(self.obj, net._params, self.epochs)
        elif not opt.begin(self.obj, net._params, self.epochs):
            net._params = start
            self.obj = None
            raise TrainingDiverged("the cost at the starting parameters is NaN or infinite; L-BFGS cannot start "
                                   "(the parameters were restored)")
        self.done = opt.converged

    def epoch(self, epoch, position, on_batch):
        opt, net = self.optimizer, self.engine.net
        if opt.converged:
            return None, None
        try:
            result = opt.iterate(self.obj)
        finally:  # the accepted point (the objective leaves trial points in the network)
            net._params = opt.params(self.obj)
        if result is None:
            return None, None
        f_data, extra = result
        if on_batch is not None:
            on_batch(0, self.data.m, f_data)
        self.done = opt.done
        return self.engine.lbfgs_entry(f_data, extra, self.data), None

    def before_checkpoint(self):
        self.optimizer.n_fun = self.obj.count

    def end(self):
        if self.obj is not None:
            self.optimizer.n_fun = self.obj.count
