"""ReduceLROnPlateau: a smaller learning rate when the monitored value stops improving."""

from __future__ import annotations

import numbers

from ..utils._validation import check_float, check_int
from ._callback import Callback, check_monitor, monitored_value, resolve_monitor


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
