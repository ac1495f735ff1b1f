"""Callbacks: your code between the training loop's steps and epochs, with state a resume restores."""

from ._callback import Callback, CSVLogger, EarlyStopping, ReduceLROnPlateau
from ._model_checkpoint import ModelCheckpoint

__all__ = ["CSVLogger", "Callback", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau"]
