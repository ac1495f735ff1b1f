"""bpx: multi-layer perceptrons trained by hand-derived backpropagation, written once on the Python
array API and run on NumPy, CuPy, PyTorch, JAX or array-api-strict."""

__version__ = "0.1.0"

from . import clipping, schedules
from .activations import ACTIVATIONS, activation
from .backend import Backend, available_backends, backend_status, get_backend, to_numpy
from .callbacks import Callback, CSVLogger, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from .export import export_onnx
from .gradcheck import gradcheck
from .history import History
from .interop import from_sklearn, from_torch, to_sklearn, to_torch
from .lbfgs import LBFGS
from .loss_scaling import LossScaler
from .losses import LOSSES
from .network import MLP, TrainingDiverged
from .optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from .persistence import ModelFileError, load, save
from .training import CheckpointError, stop_on_signals

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "MLP",
    "SGD",
    "Adam",
    "AdamW",
    "Adagrad",
    "Optimizer",
    "RMSprop",
    "clipping",
    "schedules",
    "Backend",
    "CSVLogger",
    "Callback",
    "CheckpointError",
    "EarlyStopping",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "activation",
    "History",
    "LBFGS",
    "LossScaler",
    "ModelFileError",
    "TrainingDiverged",
    "available_backends",
    "backend_status",
    "export_onnx",
    "from_sklearn",
    "from_torch",
    "get_backend",
    "gradcheck",
    "load",
    "save",
    "stop_on_signals",
    "to_numpy",
    "to_sklearn",
    "to_torch",
]
