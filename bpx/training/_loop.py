"""The training loop, written once: ``MLP.fit`` on every engine, with every optimizer.

The loop owns what every run shares: the epochs and the host-drawn shuffle stream, validation (by
data or by split), early stopping (:class:`bpx.EarlyStopping`), catching divergence and restoring the
last good parameters, History (appended in exactly one place, ``Run._epochs``), the progress bar,
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
import dataclasses
import math
import os
from typing import Any, Protocol

from ..callbacks._callback import as_callbacks
from ..callbacks._early_stopping import EarlyStopping
from ..errors import TrainingDiverged
from ..optimizers._first_order import Adam
from ..optimizers._lbfgs import LBFGS
from ..utils._paths import check_output_file
from ..utils._validation import check_bool, check_float, check_int
from ._checkpoint import check_identity, check_state, fingerprint, sampled_rows
from ._checkpoint import read as read_checkpoint
from ._checkpoint import write as write_checkpoint
from ._history import History
from ._progress import Progress
from ._step import check_optimizer
from ._stop import STOP, StepAbandoned
from .engines import engine_for


class Method(Protocol):
    """How an epoch trains (:class:`MiniBatch`, :class:`FullBatch`), on an :class:`~bpx.training.engines.Engine`.

    ``done`` turns true when the method has nothing left to do (L-BFGS converged)."""

    done: bool

    def begin(self, resumed: bool) -> None:
        """Before the first epoch (``resumed``: the state came from a checkpoint)."""

    def epoch(self, epoch: int, position: dict | None, on_batch) -> tuple[dict | None, dict | None]:
        """One epoch: ``(entry, None)``, ``(None, partial)`` when stopped inside it, ``(None, None)`` when
        no step was taken."""

    def before_checkpoint(self) -> None:
        """Bring the optimizer's counters up to date before a checkpoint reads them."""

    def end(self) -> None:
        """After the last epoch, also when an epoch raised."""


def fit(net, X, Y, *, epochs=1, batch_size=None, optimizer=None, shuffle=True, validation_data=None, verbose=1,
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
    settings = Settings.checked(net, epochs=epochs, batch_size=batch_size, optimizer=optimizer, shuffle=shuffle,
                                validation_data=validation_data, verbose=verbose, validation_split=validation_split,
                                early_stopping=early_stopping, callbacks=callbacks, checkpoint=checkpoint,
                                checkpoint_every=checkpoint_every, resume=resume)
    return Run.begin(net, X, Y, sample_weight, settings).train()


@dataclasses.dataclass
class Settings:
    """``fit``'s options, every one checked before any work (:meth:`checked`)."""

    epochs: int
    optimizer: Any
    batch_size: int | None
    shuffle: bool
    verbose: int
    validation_data: Any
    validation_split: float
    callbacks: list
    checkpoint: str | None
    checkpoint_every: int
    resume: bool

    @property
    def full_batch(self):
        """L-BFGS: one epoch is one full-batch iteration."""
        return isinstance(self.optimizer, LBFGS)

    @classmethod
    def checked(cls, net, *, epochs, batch_size, optimizer, shuffle, validation_data, verbose, validation_split,
                early_stopping, callbacks, checkpoint, checkpoint_every, resume):
        epochs = check_int(epochs, "epochs")
        optimizer = optimizer if optimizer is not None else (net.optimizer or Adam())
        check_optimizer(optimizer, net)
        if batch_size is not None:
            if isinstance(optimizer, LBFGS):
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
        if early_stopping is not None:  # first: the user's callbacks end with the best parameters restored
            cbs.insert(0, EarlyStopping(early_stopping))
        path = _checkpoint_path(checkpoint)
        checkpoint_every = check_int(checkpoint_every, "checkpoint_every")
        resume = check_bool(resume, "resume")
        if resume and path is None:
            raise ValueError("resume=True needs checkpoint=PATH (the file to resume from)")
        return cls(epochs, optimizer, batch_size, shuffle, verbose, validation_data, validation_split, cbs, path,
                   checkpoint_every, resume)


class Run:
    """One ``fit``: the network, its engine and method, the callbacks, the History, and the checkpoint
    (its path, the run's identity and the shuffle stream's state at the start). :meth:`begin` checks and
    places the data (nothing changes when it refuses); :meth:`train` runs the epochs."""

    def __init__(self, net, engine, method, settings, identity, fit_start, saved):
        self.net, self.engine, self.method, self.settings = net, engine, method, settings
        self.optimizer, self.callbacks, self.epochs = settings.optimizer, settings.callbacks, settings.epochs
        self.path, self.identity, self.fit_start = settings.checkpoint, identity, fit_start
        self.saved = saved  # (identity, state) of the checkpoint resumed from, or None
        self.history = History()

    @classmethod
    def begin(cls, net, X, Y, sample_weight, settings):
        """The engine for X, the checkpoint to resume (if any), the data checked and placed, and the
        identity checked against the checkpoint's; the shuffle stream is put back if anything is refused."""
        path = settings.checkpoint
        engine = engine_for(net, X)
        saved = read_checkpoint(path) if settings.resume and os.path.exists(path) else None
        stream = net.rngs.shuffle.bit_generator.state
        try:
            if saved is not None:  # the split is drawn again from the stream's state at the run's start
                net.rngs.shuffle.bit_generator.state = saved[1]["rng"]["fit_start"]
            fit_start = net.rngs.shuffle.bit_generator.state if path is not None else None
            data = engine.data(X, Y, sample_weight, settings.validation_data, settings.validation_split)
            batch = data.m if settings.full_batch else min(settings.batch_size or data.m, data.m)
            identity = _identity(net, engine, settings.optimizer, settings.batch_size, data) if path is not None else None
            if saved is not None:
                check_identity(path, saved[0], identity)
                check_state(path, saved[1], settings.epochs, identity, settings.optimizer)  # before anything is restored
        except BaseException:
            net.rngs.shuffle.bit_generator.state = stream  # refused: the network as it was
            raise
        method = (FullBatch if settings.full_batch else MiniBatch)(engine, settings.optimizer, data, batch,
                                                                  settings.shuffle, settings.epochs)
        return cls(net, engine, method, settings, identity, fit_start, saved)

    def train(self):
        """Run the epochs; returns the History."""
        net, history, cbs = self.net, self.history, self.callbacks
        net.optimizer = self.optimizer
        for cb in cbs:
            cb.model, cb.history, cb.stop_training = net, history, False
        done, finished, position = self._restore()
        logs = {"epochs": self.epochs, "resumed_from": history.resumed_from}
        with net.backend.quiet_float_errors(), \
                contextlib.closing(Progress(self.epochs, self.settings.verbose, done)) as progress:
            for cb in cbs:
                cb.on_train_begin(logs)
            if self.saved is not None:  # matched by class name and order; a callback new to the run starts fresh
                states = {entry["type"]: entry["state"] for entry in self.saved[1]["callbacks"]}
                for key, cb in _keyed(cbs):
                    if key in states:
                        cb.load_state_dict(states[key])
            try:
                self.method.begin(self.saved is not None)
                finished = self._epochs(done, finished, position, progress)
            finally:
                self.method.end()
            if STOP.signal is not None:  # consumed: the run stopped early on it, or had just finished
                if len(history) < self.epochs and not finished:
                    history.interrupted = STOP.signal
                STOP.signal = None
            for cb in cbs:
                cb.on_train_end(logs)
        return history

    def _restore(self):
        """Put the checkpoint's state back (parameters, optimizer, streams, History); returns ``(epochs
        done, finished, position inside the next epoch)``."""
        if self.saved is None:
            return 0, False, None
        state, net, engine = self.saved[1], self.net, self.engine
        net.params = engine.from_host(state["params"])
        self.optimizer.load_state_dict(state["optimizer"], lambda a: engine.from_host([a])[0])
        net.rngs.shuffle.bit_generator.state = state["rng"]["shuffle"]
        net.rngs.dropout.bit_generator.state = state["rng"]["dropout"]
        self.history.load_state_dict(state["history"])
        self.history.resumed_from = state["epoch"]
        return state["epoch"], state["finished"], state["position"]

    def _on_batch(self):
        """The per-batch hook the engine calls (None without ``on_batch_end`` callbacks)."""
        hooks = [cb for cb in self.callbacks if callable(getattr(cb, "on_batch_end", None))]
        if not hooks:
            return None

        def on_batch(k, rows, cost):
            logs = {"size": rows, "loss": cost}
            for cb in hooks:
                cb.on_batch_end(k, logs)
        return on_batch

    def _epochs(self, done, finished, position, progress):
        """The epochs from ``done + 1``; returns whether the run finished (stopped by a callback, L-BFGS
        converged or the method done)."""
        net, cbs, history, path = self.net, self.callbacks, self.history, self.path
        on_batch, epoch = self._on_batch(), done
        while not finished and epoch < self.epochs:
            epoch += 1
            for cb in cbs:
                cb.on_epoch_begin(epoch)
            epoch_start = net.rngs.shuffle.bit_generator.state if path is not None else None
            if position is not None:  # resuming inside this epoch: the stream as it was at its start
                epoch_start = net.rngs.shuffle.bit_generator.state = position["rng"]
            entry, partial = self.method.epoch(epoch, position, on_batch)
            position = None
            if partial is not None:  # stopped inside the epoch on request ({}: before its first step)
                if path is not None:
                    if partial:
                        partial["rng"] = epoch_start
                    self.write(epoch - 1, False, partial or None)
                break
            if entry is None:  # L-BFGS took no step (converged, or cannot go on)
                if path is not None:
                    self.write(epoch - 1, True)
                return True
            history.append(**entry)  # the one place the History grows
            progress.update(epoch, entry)
            logs = dict(entry)
            stops = [cb.on_epoch_end(epoch, logs) is True for cb in cbs]
            finished = any(stops) or any(cb.stop_training for cb in cbs) or self.method.done
            if path is not None and (epoch % self.settings.checkpoint_every == 0 or finished or epoch == self.epochs
                                     or STOP.signal is not None):
                self.write(epoch, finished)
            if STOP.signal is not None and not finished and epoch < self.epochs:
                break
        return finished

    def write(self, epoch, finished, position=None):
        """Write the checkpoint: everything the rest of the run depends on, after ``epoch`` epochs
        (``position``: where to continue inside the next one)."""
        self.method.before_checkpoint()
        net, engine = self.net, self.engine
        state = {
            "epoch": epoch,
            "finished": finished,
            "params": engine.to_host(net.params),
            "optimizer": self.optimizer.state_dict(),
            "rng": {"shuffle": net.rngs.shuffle.bit_generator.state, "dropout": net.rngs.dropout.bit_generator.state,
                    "fit_start": self.fit_start},
            "history": self.history.state_dict(),
            "callbacks": [{"type": key, "state": cb.state_dict()} for key, cb in _keyed(self.callbacks)],
            "position": position,
        }
        if position is not None:
            position["start"] = engine.to_host(position["start"])
        write_checkpoint(self.path, self.identity, state)


def _checkpoint_path(path):
    if path is None:
        return None
    return check_output_file(path, "checkpoint")


ARCHITECTURE = ("layer_sizes", "activation", "output", "loss", "bias", "dropout")  # of MLP.get_config()


def _identity(net, engine, optimizer, batch_size, data):
    """What a resumed run must share with the checkpoint's (JSON values): the network's configuration
    (its architecture, dtype and precision: not its seed, whose streams the checkpoint holds), the
    engine, the optimizer, the batch size, the number of training rows, and fingerprints of the
    training data (X, Y, sample weights) and of the validation data (None without)."""
    config = net.get_config()
    train = [data.X, data.Y] + ([data.w] if data.w is not None else [])
    return {
        "engine": engine.name,
        "architecture": {key: config[key] for key in ARCHITECTURE},
        "dtype": config["dtype"],
        "precision": config.get("precision"),
        "optimizer": repr(optimizer),
        "batch_size": batch_size,
        "rows": data.m,
        "data": _fingerprint(engine, train),
        "validation": None if data.val is None else _fingerprint(engine, list(data.val)),
    }


def _fingerprint(engine, arrays):
    """:func:`bpx.training._checkpoint.fingerprint` of arrays of the same rows: one small host copy of at
    most ``SAMPLE_ROWS`` of their rows (``SAMPLE_VALUES`` values), once per fit (never per step)."""
    rows = sampled_rows(arrays[0].shape[0], sum(math.prod(a.shape[1:]) for a in arrays))
    return fingerprint([a.shape for a in arrays], engine.host_rows(arrays, rows))


def _keyed(cbs):
    """``(key, callback)``: the key is the class name, with ``#k`` for the k-th repeat of a class."""
    seen = {}
    for cb in cbs:
        name = type(cb).__name__
        seen[name] = seen.get(name, 0) + 1
        yield (name if seen[name] == 1 else f"{name}#{seen[name]}"), cb


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
        rng = net.rngs.shuffle if self.shuffle else None
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
            net.params = start
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
        self.started = False  # False until the first evaluation succeeded (or a checkpoint's point is taken)

    def begin(self, resumed):
        net, opt = self.engine.net, self.optimizer
        start = list(net.params)
        self.obj = self.engine.objective(self.data, opt.weight_decay)
        if resumed and opt.fun is not None:  # the checkpoint's point, with its cost and gradient
            self.obj.count = opt.n_fun
            opt.resume(self.obj, net.params, self.epochs)
            self.done, self.started = opt.converged, True
            return
        try:
            finite = opt.begin(self.obj, net.params, self.epochs)
        except StepAbandoned:  # the first evaluation was given up: the run stops before its first iteration
            net.params = start
            return
        self.started = True
        if not finite:
            net.params = start
            self.obj = None
            raise TrainingDiverged("the cost at the starting parameters is NaN or infinite; L-BFGS cannot start "
                                   "(the parameters were restored)")
        self.done = opt.converged

    def epoch(self, epoch, position, on_batch):
        opt, net = self.optimizer, self.engine.net
        if not self.started:
            return None, {}
        if opt.converged:
            return None, None
        count = self.obj.count
        try:
            result = opt.iterate(self.obj)
        except StepAbandoned:  # an evaluation was given up: the iteration did not happen (LBFGS.iterate
            self.obj.count = count  # changes its state only once the line search has ended)
            return None, {}
        finally:  # the accepted point (the objective leaves trial points in the network)
            net.params = opt.params(self.obj)
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
