"""bpx: multi-layer perceptrons trained by hand-derived backpropagation, written once on the Python
array API and run on NumPy, CuPy, PyTorch, JAX or array-api-strict."""

from . import clipping, errors, schedules
from ._version import __version__  # noqa: F401 (bpx.__version__)
from .backends import Backend, available_backends, backend_status, get_backend, to_numpy
from .callbacks import Callback, CSVLogger, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from .errors import (
    BackendUnavailableError,
    BpxError,
    CheckpointError,
    DeviceError,
    FileFormatError,
    ModelFileError,
    SchedulerLostError,
    TrainingDiverged,
    TrainingDivergedError,
)
from .integrations import from_sklearn, from_torch, to_sklearn, to_torch
from .io import export_onnx, save
from .models import MLP, load
from .nn import ACTIVATIONS, LOSSES, activation
from .optimizers import LBFGS, SGD, Adagrad, Adam, AdamW, LossScaler, Optimizer, RMSprop
from .tools import gradcheck
from .training import History, stop_on_signals

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
    "BackendUnavailableError",
    "BpxError",
    "DeviceError",
    "FileFormatError",
    "TrainingDivergedError",
    "errors",
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
    "SchedulerLostError",
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

# Public modules with optional or heavier imports, imported on first use: after a plain ``import bpx``,
# ``bpx.datasets.open_dask(...)`` and ``bpx.distributed.connect()`` work (docs/guide/dask.md).
LAZY_MODULES = ("datasets", "distributed")


def __getattr__(name):
    if name in LAZY_MODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
