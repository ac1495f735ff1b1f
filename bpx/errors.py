"""The errors bpx raises on purpose: one base, :class:`BpxError`, and one class per kind of failure.

Bad arguments are plain ``TypeError``/``ValueError`` (raised before any work, naming the argument);
the classes here are for what goes wrong *with* good arguments. Each one also subclasses the builtin
exception code written before it existed catches (``ValueError``, ``FloatingPointError``), so
``except ValueError`` keeps working, and ``except bpx.BpxError`` catches every one of them.

The bottom layer: this module imports nothing from bpx (docs/development/architecture.md, "Layers").

- :class:`BpxError` (an ``Exception``): the base of all below;
- :class:`FileFormatError` (a ``ValueError``): a file bpx cannot trust, with its two kinds
  :class:`ModelFileError` (:func:`bpx.load` refuses a model file) and :class:`CheckpointError`
  (``fit(resume=True)`` refuses a checkpoint);
- :class:`TrainingDivergedError` (a ``FloatingPointError``): a non-finite loss or parameter in training;
- :class:`BackendUnavailableError` (an ``Exception``): an array library cannot be used here;
- :class:`DeviceError` (a ``ValueError``): a backend spec names a device that is not there;
- :class:`SchedulerLostError` (a ``ConnectionError``): a dask.distributed scheduler went away while bpx
  waited on it outside a training step (inside one, ``fit`` stops and returns the run so far).

The older names stay importable: ``bpx.TrainingDiverged`` is :class:`TrainingDivergedError` and
``bpx.backends.Unavailable`` is :class:`BackendUnavailableError`.
"""

from __future__ import annotations

import os

__all__ = ["BackendUnavailableError", "BpxError", "CheckpointError", "DeviceError", "FileFormatError",
           "ModelFileError", "SchedulerLostError", "TrainingDiverged", "TrainingDivergedError", "Unavailable"]


class BpxError(Exception):
    """The base of every error bpx raises on purpose (not of its argument checks' TypeError/ValueError)."""


class FileFormatError(BpxError, ValueError):
    """A file bpx cannot trust: missing, truncated, corrupted, foreign, too new, or of another run.

    A subclass of ``ValueError``; its message is ``"<path>: <reason>"``.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    reason : str
        What is wrong with it.

    Attributes
    ----------
    path : str
    reason : str
    """

    def __init__(self, path, reason):
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.path, self.reason = os.fspath(path), reason

    def __reduce__(self):  # pickles (multiprocessing, Dask workers) rebuild it from (path, reason)
        return type(self), (self.path, self.reason)


class ModelFileError(FileFormatError):
    """A model file that bpx cannot trust: missing, truncated, corrupted, foreign or too new. Raised by
    :func:`bpx.load` before any network is built (a :class:`FileFormatError`, so a ``ValueError``)."""


class CheckpointError(FileFormatError):
    """A checkpoint bpx cannot resume from: unreadable, corrupted, foreign, too new, or of another run
    (a :class:`FileFormatError`, so a ``ValueError``)."""


class TrainingDivergedError(BpxError, FloatingPointError):
    """Training produced a non-finite loss or parameter; the network keeps its last finite state."""


TrainingDiverged = TrainingDivergedError  # the name before bpx.errors existed


class BackendUnavailableError(BpxError):
    """An array library cannot be used here (not installed, no device, ...); ``str(exc)`` says why."""


Unavailable = BackendUnavailableError  # the name before bpx.errors existed


class DeviceError(BpxError, ValueError):
    """A backend spec names a device the library does not have; ``str(exc)`` says why."""


class SchedulerLostError(BpxError, ConnectionError):
    """The dask.distributed scheduler went away while bpx waited on a graph outside a training step (the
    data check before training, an evaluation, a prediction); ``str(exc)`` names the scheduler and what
    dask said. Inside a training step the same loss stops ``fit`` instead, keeping the run so far."""
