"""Waiting on a dask.distributed cluster without hanging on it (docs/guide/dask.md, "When the cluster
fails"; docs/development/architecture.md, engines).

A step of the distributed engine is one graph. On a ``dask.distributed`` client, :func:`compute` submits
it as a future and waits in short slices, so that while the step runs

- a stop request (Ctrl-C/SIGTERM under :func:`bpx.training.stop_on_signals`, or ``STOP.request()``)
  abandons the step (its update is not applied; the loop writes the checkpoint at that batch);
- a lost scheduler (the future cancelled with ``scheduler-connection-lost``) becomes a stop named
  :data:`SCHEDULER_LOST` (``history.interrupted``), with a :class:`SchedulerLostWarning`: the
  parameters live on the client, so the run so far is kept;
- a cluster that has had no workers for ``dask.config["bpx.no-workers-timeout"]`` seconds (default
  :data:`NO_WORKERS_TIMEOUT`) gives one :class:`NoWorkersWarning` per outage (the step goes on when a
  worker joins).

Outside a step (``stop`` None: the data check before training, an evaluation, a prediction) the same
wait warns of a cluster without workers, and a lost scheduler raises :class:`bpx.errors.SchedulerLostError`
instead of hanging. On Dask's local schedulers (no client) the graph is computed as ``dask.compute`` does.
"""

from __future__ import annotations

import time
import warnings
from concurrent.futures import CancelledError

import dask

from ...errors import SchedulerLostError

SCHEDULER_LOST = "scheduler-lost"  # history.interrupted when the scheduler went away mid-run
NO_WORKERS_TIMEOUT = 60.0  # seconds without workers before the warning (dask config "bpx.no-workers-timeout")
POLL = 0.25  # seconds between looks at the stop request and the cluster while a step runs
FETCH = 5.0  # seconds a finished step's value may take to arrive before the cluster is looked at again


class NoWorkersWarning(RuntimeWarning):
    """The cluster has had no workers for a while; the step waits for one."""


class SchedulerLostWarning(RuntimeWarning):
    """The scheduler went away mid-run; ``fit`` stopped and returned the run so far."""


def distributed_client(graph):
    """The ``dask.distributed.Client`` that ``dask.compute(graph)`` would run on, or None (a local
    scheduler: the threaded default, ``dask.config.set(scheduler="synchronous")``, ...)."""
    from dask.base import get_scheduler

    get = get_scheduler(collections=[graph])
    owner = getattr(get, "__self__", None)
    try:
        from distributed import Client
    except ImportError:
        return None
    return owner if isinstance(owner, Client) else None


def compute(graph, stop=None):
    """``graph``'s value (a list or tuple of graphs: the list of their values, from one graph), or None
    when the step was given up: ``stop.signal`` was set while it ran, or
    the scheduler was lost (then ``stop.request(SCHEDULER_LOST)`` and a :class:`SchedulerLostWarning`).
    Without ``stop`` (not a training step): nothing is given up, and a lost scheduler raises
    :class:`bpx.errors.SchedulerLostError`."""
    if isinstance(graph, (list, tuple)):  # several results: one graph, so one future to wait on
        graph = dask.delayed(graph)
    client = distributed_client(graph)
    if client is None:
        return dask.compute(graph)[0]
    from distributed import TimeoutError as ResultTimeout
    from distributed import wait

    future = client.compute(graph)
    timeout = float(dask.config.get("bpx.no-workers-timeout", NO_WORKERS_TIMEOUT))
    since, warned, fetch = None, False, FETCH
    while True:
        try:
            wait(future, timeout=POLL)
        except Exception:  # noqa: BLE001  (not done in POLL s, or cancelled: the status below says which)
            pass
        if future.status == "error":
            return future.result()  # raises the task's own error
        lost = future.status == "cancelled" or client.status in ("closing", "closed")
        if future.status == "finished":
            try:
                return future.result(timeout=fetch)
            except (OSError, CancelledError):  # the value could not be fetched: the connection went with it
                lost = True
            except ResultTimeout:  # the value was on a worker that has gone (computed again once one comes),
                fetch *= 2  # or is large on a slow network: wait longer next time
        if lost and stop is None:
            raise SchedulerLostError(f"dask: lost the scheduler {_address(client)} while waiting on a result "
                                     f"({_reason(future)})")
        if lost:
            warnings.warn(f"dask: lost the scheduler {_address(client)} mid-step ({_reason(future)}); fit stopped "
                          f"and returned the run so far (history.interrupted == {SCHEDULER_LOST!r}; with checkpoint= "
                          f"a checkpoint to resume from)", SchedulerLostWarning, stacklevel=2)
            stop.request(SCHEDULER_LOST)
            return None
        if stop is not None and stop.signal is not None:
            _release(client, future)
            return None
        workers = _n_workers(client)
        if workers:
            since, warned = None, False
        elif since is None:
            since = time.monotonic()
        elif not warned and time.monotonic() - since >= timeout:
            warned = True
            what, advice = (("step", "stop the run with Ctrl-C/SIGTERM: the checkpoint keeps it") if stop is not None
                            else ("computation", "interrupt it with Ctrl-C"))
            warnings.warn(f"dask: the cluster {_address(client)} has had no workers for {timeout:g} s; the {what} "
                          f"waits for one (start a worker, or {advice})", NoWorkersWarning, stacklevel=2)


def _n_workers(client):
    try:
        return len(client.scheduler_info(n_workers=-1)["workers"])
    except Exception:  # noqa: BLE001  (the scheduler is going: the future's status says so next)
        return 1


def _release(client, future):
    try:
        client.cancel(future)
    except Exception:  # noqa: BLE001  (a cluster that cannot hear us has nothing to cancel)
        pass


def _address(client):
    return getattr(client.scheduler, "address", None) or "(unknown address)"


def _reason(future):
    try:
        future.result(timeout=0)
    except Exception as exc:  # noqa: BLE001
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return text if len(text) < 200 else text[:197] + "..."
    return "cancelled"
