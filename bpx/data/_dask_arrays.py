"""Dask arrays on the host side: row-chunking host data, the active client, and connecting to a cluster.

Host-side data code (it may import numpy and dask): :func:`as_dask` wraps host data as a dask array
chunked by rows (about :data:`CHUNK_BYTES` per chunk), :func:`connect` returns a ``dask.distributed``
client. The per-chunk math that runs on these arrays is :mod:`bpx.training.engines._dask_math`.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os

import array_api_compat
import dask.array as da
import numpy as np

from ..backends._backend import is_host_data, namespace_name
from ..utils._validation import check_float, check_int

CHUNK_BYTES = 64 * 2**20  # host data is chunked into about this many bytes per row chunk
_PLANNED_THREADS = contextvars.ContextVar("planned_threads", default=None)


def is_dask(x):
    return array_api_compat.is_dask_array(x)


def client():
    """The active ``dask.distributed.Client``, or None (then Dask's local scheduler runs the graphs)."""
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


def as_dask(X, chunks=None, name="X"):
    """``X`` as a dask array chunked by rows, every column in one chunk (a copy is never made).

    Host data (NumPy arrays, lists) is wrapped with ``chunks`` rows per chunk (default
    :func:`default_rows`: about :data:`CHUNK_BYTES` per chunk, at least two chunks per thread); a dask
    array keeps its row chunks (or takes ``chunks`` rows) and is rechunked to one column chunk when it
    has several.
    """
    if chunks is not None:
        chunks = check_int(chunks, "chunks")
    if is_dask(X):
        if any(isinstance(n, float) and math.isnan(n) for n in X.shape):
            raise ValueError(f"{name} has unknown chunk sizes (shape {X.shape}); compute them first, e.g. "
                             f"{name}.compute_chunk_sizes() or dask DataFrame's to_dask_array(lengths=True)")
        if X.ndim == 2 and X.numblocks[1] > 1:
            X = X.rechunk({1: -1})
        return X if chunks is None else X.rechunk({0: chunks})
    if not is_host_data(X):
        raise TypeError(f"{name} is a {namespace_name(X)} array; give dask arrays or host (NumPy) data to a dask "
                        f"computation (bpx.to_numpy(x) copies it to the host)")
    host = np.asarray(X)
    if host.ndim == 0:
        raise ValueError(f"{name} must be an array of samples, got a scalar")
    return da.from_array(host, chunks=(chunks or default_rows(host.shape, host.itemsize),) + (-1,) * (host.ndim - 1))


@contextlib.contextmanager
def planned_threads(threads):
    """Within the block, :func:`default_rows` counts ``threads`` threads (a cluster about to start)."""
    token = _PLANNED_THREADS.set(check_int(threads, "threads"))
    try:
        yield
    finally:
        _PLANNED_THREADS.reset(token)


def default_rows(shape, itemsize):
    """Rows per chunk for host data: about :data:`CHUNK_BYTES` per chunk, and at least two chunks per
    thread that will run them (:func:`planned_threads`, else the Client's workers' threads, else this
    machine's CPUs)."""
    row_bytes = max(1, itemsize * math.prod(shape[1:]))
    threads = _PLANNED_THREADS.get()
    if threads is None:
        c = client()
        threads = sum(c.nthreads().values()) if c is not None else (os.cpu_count() or 1)
    return max(1, min(CHUNK_BYTES // row_bytes, -(-shape[0] // (2 * threads))))


def connect(address=None, workers=2, threads=1, timeout=10):
    """A ``dask.distributed.Client``: to the scheduler at ``address`` (else ``$DASK_SCHEDULER_ADDRESS``),
    else to a new LocalCluster of ``workers`` processes × ``threads`` threads on this machine (closed with
    the client). A scheduler that does not answer within ``timeout`` seconds is a ``ValueError``."""
    from distributed import Client

    workers = check_int(workers, "workers")
    threads = check_int(threads, "threads")
    timeout = check_float(timeout, "timeout", low=0.0, low_open=True)
    address = address or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if not address:
        return Client(n_workers=workers, threads_per_worker=threads, processes=True, dashboard_address=":0")
    try:
        return Client(address, timeout=timeout)
    except Exception as exc:  # OSError/TimeoutError for silence, ValueError/TypeError for a malformed address
        raise ValueError(f"dask scheduler {address!r} did not answer within {timeout:g} s "
                         f"({type(exc).__name__}: {exc}); check the address (tcp://host:8786) and that the "
                         f"scheduler runs") from None
