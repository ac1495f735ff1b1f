"""Training: one loop (:mod:`bpx.training.loop`) for every engine (:mod:`bpx.training.engines`), with
callbacks (:mod:`bpx.training.callbacks`), checkpoints that resume bit for bit
(:mod:`bpx.training.checkpoint`) and stopping on request (:func:`stop_on_signals`)."""

from .checkpoint import CheckpointError
from .loop import TrainingDiverged, fit
from .stop import STOP, StopRequest, stop_on_signals

__all__ = ["STOP", "CheckpointError", "StopRequest", "TrainingDiverged", "fit", "stop_on_signals"]
