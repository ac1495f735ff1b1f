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
