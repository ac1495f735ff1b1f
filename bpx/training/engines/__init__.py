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

from array_api_compat import is_dask_array

from ._compiled import CompiledEngine
from ._eager import EagerEngine

ENGINES = ("eager", "compiled", "distributed")


def engine_for(net, X):
    """The engine that trains ``net`` on ``X``: distributed for a lazy backend or a dask X, compiled for
    a compiling library (JAX), else eager."""
    library = net.backend.library
    if library.lazy or is_dask_array(X):
        from ._distributed import DistributedEngine  # optional dependency: the distributed engine needs dask

        return DistributedEngine(net)
    if library.compiled:
        return CompiledEngine(net)
    return EagerEngine(net)
