"""Callbacks: your code between the training loop's steps and epochs, with state a resume restores.

The protocol (every method optional on a subclass of :class:`Callback`)::

    on_train_begin(logs)           once per fit call, before the first epoch (also when resuming)
    on_epoch_begin(epoch)          before each epoch (epochs count from 1)
    on_batch_end(batch, logs)      after each step: logs = {"size": rows, "loss": the batch's cost as a
                                   0-d array (float(...) reads it, one host sync)}; where it runs, see below
    on_epoch_end(epoch, logs)      after each epoch: logs = the History entry (loss, accuracy, val_loss,
                                   val_accuracy; None where not measured); return True to stop training
    on_train_end(logs)             once, when the loop ends (finished, stopped, or interrupted)
    state_dict() / load_state_dict(state)
                                   JSON values and NumPy arrays a checkpoint keeps and a resume restores

The loop sets ``callback.model`` (the network) and ``callback.history`` before ``on_train_begin``. A
callback stops training by returning True from ``on_epoch_end`` or by setting
``self.stop_training = True`` (checked after each epoch); the loop then ends after that epoch.

Where ``on_batch_end`` runs: live after every step on the eager engines (numpy, cupy, torch,
array_api_strict) and on Dask (every step is one graph); on JAX the epoch is one compiled call, so the
hooks are *replayed* after it from the epoch's per-batch costs (the parameters are then those at the
epoch's end); with ``bpx.LBFGS`` once per iteration (the full batch is the one batch). The loop only
calls it when some callback defines it, so a fit without batch hooks does no per-step work for them.
"""

from __future__ import annotations

import csv
import numbers
import os

from ..backends._backend import to_numpy
from ..utils._paths import check_output_file
from ..utils._validation import check_float, check_int


class Callback:
    """Base class: override the hooks you need (see the module docstring for when each runs).

    Attributes
    ----------
    model : bpx.MLP
        The network being trained (set by the loop before ``on_train_begin``).
    history : bpx.History
        The run's history so far (set likewise).
    stop_training : bool
        Set it to True to stop after the current epoch.
    """

    model = None
    history = None
    stop_training = False

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch):
        pass

    def on_epoch_end(self, epoch, logs):
        pass

    def on_train_end(self, logs=None):
        pass

    def state_dict(self):
        """The state a resumed run needs (JSON values and NumPy arrays); ``{}`` for none."""
        return {}

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned."""


class FunctionCallback(Callback):
    """A plain function ``f(epoch, logs)`` called at every epoch's end; a True return stops training."""

    def __init__(self, function):
        self.function = function

    def on_epoch_end(self, epoch, logs):
        return self.function(epoch, logs)

    def __repr__(self):
        return f"FunctionCallback({getattr(self.function, '__name__', self.function)!r})"


def as_callbacks(callbacks):
    """``fit``'s ``callbacks`` argument as a list of :class:`Callback` (functions wrapped); raises
    TypeError for anything else, before any work."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback) or callable(callbacks) or isinstance(callbacks, (str, bytes)):
        raise TypeError("callbacks must be a list of bpx.Callback objects or functions f(epoch, logs), "
                        f"got {type(callbacks).__name__}; wrap one in a list")
    result = []
    for i, cb in enumerate(callbacks):
        if isinstance(cb, Callback):
            result.append(cb)
        elif callable(cb):
            result.append(FunctionCallback(cb))
        else:
            raise TypeError(f"callbacks[{i}] must be a bpx.Callback or a function f(epoch, logs), "
                            f"got {type(cb).__name__}")
    return result


def monitored_value(logs, monitor, who):
    """The value of ``monitor`` in an epoch's ``logs``; a ValueError naming ``who`` when it is not measured."""
    value = logs.get(monitor)
    if value is None:
        have = ", ".join(k for k, v in logs.items() if v is not None)
        raise ValueError(f"{who}: monitor={monitor!r} is not measured in this fit (it has {have}); "
                         f"pass validation data to monitor val_loss")
    return value


def check_monitor(monitor, mode, who):
    """Refuse a ``monitor`` or ``mode`` a monitoring callback (``who``) does not know, before any work."""
    if not isinstance(monitor, str) or monitor not in ("loss", "accuracy", "val_loss", "val_accuracy", "auto"):
        raise ValueError(f"{who}: monitor must be 'loss', 'accuracy', 'val_loss', 'val_accuracy' or 'auto', "
                         f"got {monitor!r}")
    if mode not in ("min", "max", "auto"):
        raise ValueError(f"{who}: mode must be 'min', 'max' or 'auto', got {mode!r}")


def resolve_monitor(monitor, mode, logs):
    """``(monitor, mode)`` with "auto" resolved: val_loss when measured, else loss; max for accuracies."""
    if monitor == "auto":
        monitor = "val_loss" if logs.get("val_loss") is not None else "loss"
    if mode == "auto":
        mode = "max" if monitor.endswith("accuracy") else "min"
    return monitor, mode


class EarlyStopping(Callback):
    """Stop when the monitored value has not improved for ``patience`` epochs, and restore the best
    parameters at the end (what ``fit(early_stopping=patience)`` runs).

    Parameters
    ----------
    patience : int
        Epochs without improvement before stopping.
    monitor : str, default "auto"
        ``"val_loss"`` when validation data is given, else ``"loss"`` (or any History metric).
    mode : {"auto", "min", "max"}
        Whether lower or higher is better (auto: max for accuracies).
    restore_best : bool, default True
        Put the best epoch's parameters back when training ends.

    Raises
    ------
    TypeError, ValueError
        For a bad ``patience``, ``monitor`` or ``mode``.
    """

    def __init__(self, patience, monitor="auto", mode="auto", restore_best=True):
        self.patience = check_int(patience, "patience")
        check_monitor(monitor, mode, "EarlyStopping")
        self.monitor, self.mode, self.restore_best = monitor, mode, bool(restore_best)
        self._reset()

    def _reset(self):
        self.best, self.best_epoch, self.best_params = None, None, None

    def on_train_begin(self, logs=None):
        self._reset()
        self.stop_training = False

    def on_epoch_end(self, epoch, logs):
        monitor, mode = resolve_monitor(self.monitor, self.mode, logs)
        value = monitored_value(logs, monitor, "EarlyStopping")
        better = self.best is None or (value < self.best if mode == "min" else value > self.best)
        if better:
            xp = self.model.backend.xp
            self.best, self.best_epoch = value, epoch
            self.best_params = [xp.asarray(p, copy=True) for p in self.model.params]
            self.history.best_epoch = epoch
        elif epoch - self.best_epoch >= self.patience:
            self.history.stopped_early = True
            return True
        return False

    def on_train_end(self, logs=None):
        if self.restore_best and self.best_params is not None:
            self.model.params = [self.model.backend.xp.asarray(p, copy=True) for p in self.best_params]

    def state_dict(self):
        return {"best": self.best, "best_epoch": self.best_epoch,
                "best_params": None if self.best_params is None else [to_numpy(p) for p in self.best_params]}

    def load_state_dict(self, state):
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        params = state["best_params"]
        self.best_params = None if params is None else [self.model.backend.asarray(p, self.model.dtype)
                                                        for p in params]

    def __repr__(self):
        return f"EarlyStopping(patience={self.patience}, monitor={self.monitor!r}, mode={self.mode!r})"


class CSVLogger(Callback):
    """Append each epoch's History entry to a CSV file as it comes (``epoch,loss,accuracy,...``).

    The file is rewritten at the first epoch of a fresh ``fit`` (``append=False``); a resumed fit keeps
    the rows of the epochs the checkpoint holds and drops any written after it, so the file always
    matches the History.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file (its folder must exist).
    append : bool, default False
        Keep the rows of earlier ``fit`` calls.

    Raises
    ------
    TypeError, ValueError
        For a path that is not a file name in an existing folder.
    """

    COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy")

    def __init__(self, path, append=False):
        self.path = check_output_file(path, "CSVLogger: path")
        self.append = bool(append)
        self.rows = 0

    def on_train_begin(self, logs=None):
        if (logs or {}).get("resumed_from") is not None:  # resumed: load_state_dict trims the file to the checkpoint
            return
        if not self.append or not os.path.exists(self.path):
            with open(self.path, "w", newline="") as f:
                csv.writer(f).writerow(self.COLUMNS)
            self.rows = 0
        else:  # appending: the rows already there count (a resume keeps them)
            with open(self.path, newline="") as f:
                self.rows = max(0, len(list(csv.reader(f))) - 1)

    def on_epoch_end(self, epoch, logs):
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow([epoch] + ["" if logs.get(k) is None else repr(logs[k]) for k in self.COLUMNS[1:]])
            f.flush()
        self.rows += 1

    def state_dict(self):
        return {"rows": self.rows}

    def load_state_dict(self, state):
        """Keep the header and the first ``rows`` rows (the epochs the checkpoint holds)."""
        self.rows = state["rows"]
        if os.path.exists(self.path):
            with open(self.path, newline="") as f:
                kept = list(csv.reader(f))[: self.rows + 1]
        else:
            kept = [list(self.COLUMNS)]
        with open(self.path, "w", newline="") as f:
            csv.writer(f).writerows(kept)

    def __repr__(self):
        return f"CSVLogger({self.path!r})"


class ReduceLROnPlateau(Callback):
    """Multiply the optimizer's learning rate ``lr`` by ``factor`` when the monitored value has not
    improved for ``patience`` epochs (then wait ``cooldown`` epochs), never below ``min_lr``.

    Works with optimizers whose ``lr`` is a number (``bpx.SGD``, ``bpx.Adam``); it is refused before
    any work for an optimizer without one (``bpx.LBFGS``) or whose ``lr`` is a schedule. The changed
    rate takes effect at the next epoch on every engine (JAX compiles the epoch for the new rate).

    Parameters
    ----------
    factor : float in (0, 1), default 0.1
    patience : int, default 10
    monitor, mode : as :class:`EarlyStopping`
    min_delta : float, default 0.0
        An improvement smaller than this does not count.
    cooldown : int, default 0
    min_lr : float, default 0.0
    verbose : bool, default False
        Print a line when the rate changes.

    Raises
    ------
    TypeError, ValueError
        For bad arguments; at ``on_train_begin`` for an optimizer whose ``lr`` is not a number.
    """

    def __init__(self, factor=0.1, patience=10, monitor="auto", mode="auto", min_delta=0.0, cooldown=0,
                 min_lr=0.0, verbose=False):
        self.factor = check_float(factor, "factor", low=0.0, high=1.0, low_open=True, high_open=True)
        self.patience = check_int(patience, "patience")
        check_monitor(monitor, mode, "ReduceLROnPlateau")
        self.monitor, self.mode = monitor, mode
        self.min_delta = check_float(min_delta, "min_delta", low=0.0)
        self.cooldown = check_int(cooldown, "cooldown", minimum=0)
        self.min_lr = check_float(min_lr, "min_lr", low=0.0)
        self.verbose = bool(verbose)
        self.best, self.wait, self.cooling = None, 0, 0

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        lr = getattr(optimizer, "lr", None)
        if not isinstance(lr, numbers.Real) or isinstance(lr, bool):
            raise ValueError(f"ReduceLROnPlateau needs an optimizer whose lr is a number; {optimizer!r} has "
                             f"lr={lr!r} (a schedule already sets the rate, and bpx.LBFGS has none)")
        self.best, self.wait, self.cooling = None, 0, 0

    def on_epoch_end(self, epoch, logs):
        monitor, mode = resolve_monitor(self.monitor, self.mode, logs)
        value = monitored_value(logs, monitor, "ReduceLROnPlateau")
        if self.cooling:
            self.cooling -= 1
            self.wait = 0
        if self.best is None or (value < self.best - self.min_delta if mode == "min" else value > self.best + self.min_delta):
            self.best, self.wait = value, 0
            return False
        if self.cooling:
            return False
        self.wait += 1
        if self.wait >= self.patience:
            optimizer = self.model.optimizer
            new = max(optimizer.lr * self.factor, self.min_lr)
            if new < optimizer.lr:
                if self.verbose:
                    print(f"epoch {epoch}: ReduceLROnPlateau lr {optimizer.lr:.4g} -> {new:.4g}", flush=True)
                optimizer.lr = new
            self.wait, self.cooling = 0, self.cooldown
        return False

    def state_dict(self):
        return {"best": self.best, "wait": self.wait, "cooling": self.cooling}

    def load_state_dict(self, state):
        self.best, self.wait, self.cooling = state["best"], state["wait"], state["cooling"]

    def __repr__(self):
        return f"ReduceLROnPlateau(factor={self.factor}, patience={self.patience}, monitor={self.monitor!r})"
