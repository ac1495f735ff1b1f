"""EarlyStopping: stop when the monitored value stops improving, and put the best parameters back."""

from __future__ import annotations

from ..backends._backend import to_numpy
from ..utils._validation import check_int
from ._callback import Callback, check_monitor, monitored_value, resolve_monitor


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
