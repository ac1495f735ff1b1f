"""Callbacks for ``fit(..., callbacks=[...])``: the protocol and the built-in ones.

:class:`Callback`, :class:`EarlyStopping`, :class:`CSVLogger` and :class:`ReduceLROnPlateau` live with
the training loop (:mod:`bpx.training.callbacks`, which documents the protocol and where each hook
runs); :class:`ModelCheckpoint`, which writes model files (:func:`bpx.save`), lives here, above both
the loop and :mod:`bpx.persistence`.
"""

from __future__ import annotations

import os

from ..io._persistence import save
from ..utils._paths import as_path, check_output_file
from ..utils._validation import check_int
from ._callback import (
    Callback,
    CSVLogger,
    EarlyStopping,
    FunctionCallback,
    ReduceLROnPlateau,
    check_monitor,
    monitored_value,
    resolve_monitor,
)

__all__ = ["Callback", "CSVLogger", "EarlyStopping", "FunctionCallback", "ModelCheckpoint", "ReduceLROnPlateau"]


class ModelCheckpoint(Callback):
    """Save the model (:func:`bpx.save`, atomically) every ``every`` epochs and/or when the monitored
    value is the best so far, keeping the last ``keep`` files.

    Parameters
    ----------
    path : str
        The file name; it may hold ``{epoch}`` (e.g. ``"model-{epoch:03d}.npz"``), filled with the epoch.
        Without ``{epoch}`` each save replaces the file.
    every : int or None, default None
        Save every this many epochs.
    best : bool, default False
        Save when the monitored value improves (``monitor``, ``mode`` as :class:`EarlyStopping`).
        With neither ``every`` nor ``best``, every epoch is saved.
    keep : int or None, default None
        Keep only the last ``keep`` files this callback wrote (older ones are deleted); None keeps all.

    Attributes
    ----------
    saved : list of str
        The files written and kept, oldest first.

    Raises
    ------
    TypeError, ValueError
        For a path outside an existing folder, or bad ``every``/``keep``/``monitor``/``mode``.
    """

    def __init__(self, path, every=None, best=False, monitor="auto", mode="auto", keep=None):
        self.path = as_path(path, "ModelCheckpoint: path")
        check_output_file(self.path.replace("{", "").replace("}", ""), "ModelCheckpoint: path")
        self.every = None if every is None else check_int(every, "every")
        self.best = bool(best)
        check_monitor(monitor, mode, "ModelCheckpoint")
        self.monitor, self.mode = monitor, mode
        self.keep = None if keep is None else check_int(keep, "keep")
        if self.every is None and not self.best:
            self.every = 1
        self.best_value, self.saved = None, []

    def on_epoch_end(self, epoch, logs):
        due = self.every is not None and epoch % self.every == 0
        if self.best:
            monitor, mode = resolve_monitor(self.monitor, self.mode, logs)
            value = monitored_value(logs, monitor, "ModelCheckpoint")
            if self.best_value is None or (value < self.best_value if mode == "min" else value > self.best_value):
                self.best_value, due = value, True
        if due:
            target = self.path.format(epoch=epoch)
            save(self.model, target)
            if target in self.saved:
                self.saved.remove(target)
            self.saved.append(target)
            while self.keep is not None and len(self.saved) > self.keep:
                old = self.saved.pop(0)
                if os.path.exists(old):
                    os.remove(old)
        return False

    def state_dict(self):
        return {"best_value": self.best_value, "saved": list(self.saved)}

    def load_state_dict(self, state):
        self.best_value, self.saved = state["best_value"], list(state["saved"])

    def __repr__(self):
        return f"ModelCheckpoint({self.path!r}, every={self.every}, best={self.best}, keep={self.keep})"
