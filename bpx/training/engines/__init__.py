"""Engines: what differs between kinds of array library when training, one module per kind.

=============  ==========================================  =============================================
engine         libraries                                   an epoch is
=============  ==========================================  =============================================
eager          numpy, cupy, torch, array_api_strict        one step per batch from Python
compiled       jax (``ArrayLibrary.compiled``)             one compiled call (``lax.scan`` over batches)
distributed    dask arrays (``ArrayLibrary.lazy``)         one graph per step over the row chunks
=============  ==========================================  =============================================

An engine supplies ``data`` (check, split, place the data), ``snapshot`` (the parameters an epoch
starts from), ``epoch`` (run the steps; stop after a step on request and continue from a position),
``host_values`` (the epoch's one host sync), ``objective`` and ``lbfgs_entry`` (L-BFGS's cost
evaluations and history entries) and ``to_host``/``from_host`` (checkpoints). Everything else — epochs,
shuffle stream, validation, early stopping, divergence, History, progress, callbacks, checkpoints —
is the loop's (:mod:`bpx.training.loop`). A new kind of library is one new module here.
"""

from __future__ import annotations

from typing import Any, Protocol

from array_api_compat import is_dask_array

from ._compiled import CompiledEngine
from ._eager import EagerEngine

ENGINES = ("eager", "compiled", "distributed")


class Engine(Protocol):
    """What the loop (:mod:`bpx.training._loop`) asks of an engine; one class per kind of library
    (:class:`EagerEngine`, :class:`CompiledEngine`, :class:`DistributedEngine`). ``net`` is the
    network it trains, through its public protocol (``params``, ``rngs``, the functional core)."""

    name: str  # the checkpoint identity's "engine"
    batch_hooks: str  # "live" (on_batch_end after each step) or "replayed" (after the epoch)
    net: Any

    def data(self, X, Y, sample_weight, validation_data, validation_split) -> Any:
        """The checked, placed data: an object with ``X``, ``Y``, ``w`` (or None), ``val`` (or None), ``m``."""

    def snapshot(self) -> list:
        """The parameters an epoch starts from (restored if it diverges)."""

    def epoch(self, optimizer, data, batch, rng, position=None, stop=None, on_batch=None) -> tuple:
        """One epoch: ``(costs, values, None)``, or ``(None, None, position)`` when stopped inside it."""

    def host_values(self, values, val) -> list:
        """The epoch's one host sync: ``[summed cost, correct, finite(, val cost, val correct)]``."""

    def finite(self, cost) -> bool:
        """Whether one batch's cost is finite."""

    def objective(self, data, weight_decay) -> Any:
        """L-BFGS's full-batch cost and gradient (a :class:`bpx.optimizers._lbfgs.Objective`)."""

    def lbfgs_entry(self, f_data, extra, data) -> dict:
        """The History entry of an accepted L-BFGS point."""

    def to_host(self, arrays) -> list:
        """Arrays as host (NumPy) copies, for a checkpoint."""

    def host_rows(self, arrays, rows) -> list:
        """The rows ``rows`` (a host vector of indices) of each of the data's arrays, as host (NumPy)
        copies: a checkpoint's data fingerprint, taken once per fit."""

    def from_host(self, arrays) -> list:
        """Host arrays as fresh, writable arrays where the engine keeps the parameters."""


def engine_for(net, X) -> Engine:
    """The engine that trains ``net`` on ``X``: distributed for a lazy backend or a dask X, compiled for
    a compiling library (JAX), else eager."""
    library = net.backend.library
    if library.lazy or is_dask_array(X):
        from ._distributed import DistributedEngine  # optional dependency: the distributed engine needs dask

        return DistributedEngine(net)
    if library.compiled:
        return CompiledEngine(net)
    return EagerEngine(net)
