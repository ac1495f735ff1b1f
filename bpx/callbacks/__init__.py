"""Callbacks: your code between the training loop's steps and epochs, with state a resume restores.

:class:`Callback` is the base class (its module documents the protocol and where each hook runs); each
built-in callback is one module. The loop (:mod:`bpx.training`) sits above this package and calls the
hooks; no callback imports the loop (docs/development/architecture.md, "Layers").
"""

from ._callback import Callback
from ._csv_logger import CSVLogger
from ._early_stopping import EarlyStopping
from ._model_checkpoint import ModelCheckpoint
from ._reduce_lr_on_plateau import ReduceLROnPlateau

__all__ = ["CSVLogger", "Callback", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau"]
