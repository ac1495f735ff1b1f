"""Dask: connect to a cluster and chunk host data by rows (needs ``pip install '.[dask]'``).

``bpx.distributed.connect()`` returns a ``dask.distributed`` client (to ``$DASK_SCHEDULER_ADDRESS`` or a
new LocalCluster); ``as_dask(X)`` wraps host data as a dask array chunked by rows. A network then trains
on dask arrays with ``backend="dask"``. A run that loses its scheduler warns with
:class:`SchedulerLostWarning` and stops with the run so far; a cluster without workers for a while warns
with :class:`NoWorkersWarning` (docs/guide/dask.md, "When the cluster fails").
"""

from .data._dask_arrays import as_dask, client, connect
from .training.engines._cluster import NoWorkersWarning, SchedulerLostWarning

__all__ = ["NoWorkersWarning", "SchedulerLostWarning", "as_dask", "client", "connect"]
