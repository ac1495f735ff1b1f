"""Dask: connect to a cluster and chunk host data by rows (needs ``pip install '.[dask]'``).

``bpx.distributed.connect()`` returns a ``dask.distributed`` client (to ``$DASK_SCHEDULER_ADDRESS`` or a
new LocalCluster); ``as_dask(X)`` wraps host data as a dask array chunked by rows. A network then trains
on dask arrays with ``backend="dask"``.
"""

from .data._dask_arrays import as_dask, client, connect

__all__ = ["as_dask", "client", "connect"]
