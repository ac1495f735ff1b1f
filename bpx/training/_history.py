"""The training history ``fit`` returns: per-epoch loss and metrics, and a plot of them."""

from __future__ import annotations

import math

from ..utils._extras import install_hint

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


class History:
    """Per-epoch ``loss``, ``accuracy``, ``val_loss`` and ``val_accuracy`` (lists of floats).

    ``accuracy`` is filled for sigmoid/softmax outputs only, the ``val_*`` lists only when validation
    data was given. ``loss`` is the mean of the batch costs seen during the epoch (before each
    batch's update, as the seeds print it). Indexing works like a dict: ``history["loss"]``.

    ``best_epoch`` and ``stopped_early`` are set by early stopping; ``interrupted`` is None, or the name
    of the signal (``"SIGINT"``, ``"SIGTERM"``) on which training stopped early at a request
    (:func:`bpx.training.stop_on_signals`); ``resumed_from`` is the epoch a ``fit(resume=True)``
    continued from (None when it started fresh).

    Attributes
    ----------
    loss : list of float
        The training loss of each epoch.
    accuracy : list of float
        The training accuracy of each epoch (classifiers only).
    val_loss, val_accuracy : list of float
        The same on the validation data, when ``fit`` was given some.
    best_epoch : int or None
        The epoch whose parameters early stopping restored.
    stopped_early : bool
        Whether early stopping (or a callback) ended training before ``epochs``.
    interrupted : str or None
        The signal on which training stopped at a request.
    resumed_from : int or None
        The epoch a resumed run continued from.
    """

    def __init__(self):
        self.loss, self.accuracy, self.val_loss, self.val_accuracy = [], [], [], []
        self.best_epoch = None
        self.stopped_early = False
        self.interrupted = None
        self.resumed_from = None

    def append(self, **values):
        for key, value in values.items():
            if value is not None:
                getattr(self, key).append(float(value))

    def state_dict(self):
        """The metrics and ``best_epoch``/``stopped_early`` as plain JSON values (for checkpoints)."""
        return {"metrics": {key: list(getattr(self, key)) for key in METRICS}, "best_epoch": self.best_epoch,
                "stopped_early": self.stopped_early}

    def load_state_dict(self, state):
        for key in METRICS:
            setattr(self, key, [float(v) for v in state["metrics"][key]])
        self.best_epoch, self.stopped_early = state["best_epoch"], state["stopped_early"]

    def __getitem__(self, key):
        if key not in METRICS:
            raise KeyError(f"{key!r}; the history has {', '.join(METRICS)}")
        return getattr(self, key)

    def __len__(self):
        return len(self.loss)

    def as_dict(self):
        """The non-empty metrics as a plain dict (JSON-ready)."""
        return {key: list(getattr(self, key)) for key in METRICS if getattr(self, key)}

    def __repr__(self):
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.as_dict().items())
        return f"History({len(self)} epochs{': ' + last if last else ''})"

    def plot(self, path):
        """Write a PNG of the loss (and accuracy) curves to ``path``. Needs matplotlib (the ``plot`` extra)."""
        if not len(self):
            raise ValueError("the history is empty: train for at least one epoch before plotting")
        try:
            from matplotlib.figure import Figure  # no pyplot: leaves the user's backend alone
        except ImportError:
            raise ImportError(f"history.plot needs matplotlib: {install_hint('plot')}") from None
        panels = [("loss", "val_loss")] + ([("accuracy", "val_accuracy")] if self.accuracy else [])
        fig = Figure(figsize=(5.5 * len(panels), 4))
        axes = fig.subplots(1, len(panels), squeeze=False)
        epochs = range(1, len(self) + 1)
        for ax, keys in zip(axes[0], panels):
            for key in keys:
                values = getattr(self, key)
                if values:
                    ax.plot(epochs[: len(values)], values, label=key.replace("_", " "))
            ax.set_xlabel("epoch")
            ax.set_ylabel(keys[0])
            if keys[0] == "loss" and all(v > 0 and math.isfinite(v) for v in self.loss):
                ax.set_yscale("log")
            if self.best_epoch is not None:
                ax.axvline(self.best_epoch, color="grey", linestyle=":", label="best epoch")
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        return path
