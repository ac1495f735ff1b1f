"""Training: one loop for every engine (eager, compiled, distributed), with checkpoints that resume bit
for bit and stopping on request."""

from ._checkpoint import CheckpointError
from ._fastest import time_backends
from ._history import History
from ._loop import TrainingDiverged, fit
from ._stop import STOP, StopRequest, stop_on_signals

__all__ = ["STOP", "CheckpointError", "History", "StopRequest", "TrainingDiverged", "fit", "stop_on_signals", "time_backends"]
