"""Stopping a running ``fit`` on request (Ctrl-C, ``kill``): a flag the loop reads between steps.

:func:`stop_on_signals` installs handlers that only record the signal; the training loop looks at the
record after every step it takes on the host (eager engines: each batch; JAX: each compiled epoch; Dask:
each graph, i.e. each batch; L-BFGS: each iteration) and then ends cleanly. On a dask.distributed
cluster the step in flight is given up at once (:class:`StepAbandoned`; an L-BFGS iteration included).
"""

from __future__ import annotations

import contextlib
import signal as _signal
import threading


class StopRequest:
    """The one place a stop request is recorded: ``signal`` is None, or the name of the signal that asked
    for the stop (``"SIGINT"``, ``"SIGTERM"``, ...). Read by the loop after each step; reset by
    :func:`stop_on_signals` on entry and exit."""

    def __init__(self):
        self.signal = None

    def request(self, name="request"):
        """Ask the running ``fit`` to stop after its current step (what the signal handler does; callable
        from any thread)."""
        self.signal = name


STOP = StopRequest()


class StepAbandoned(Exception):
    """An engine gave up a computation of the step in flight (a Dask graph, on a stop request or a lost
    scheduler; :mod:`bpx.training.engines._cluster`): the step did not happen, and the training loop
    ends the run where the previous step left it, as for a stop between steps."""


@contextlib.contextmanager
def stop_on_signals(signals=(_signal.SIGINT, _signal.SIGTERM)):
    """Within this block, the given signals stop a running ``fit`` cleanly instead of killing it.

    The handler only records the signal (:data:`STOP`); the loop notices it after the current step:
    after each batch on eager engines (numpy, cupy, torch, array_api_strict) and on Dask (each graph),
    after the current compiled epoch on JAX, after the current iteration with ``bpx.LBFGS``. ``fit`` then

    1. writes the checkpoint if ``checkpoint=PATH`` was given. Stopped between epochs, that is an
       ordinary end-of-epoch checkpoint; stopped inside an epoch (eager and Dask engines), it records
       the position inside the epoch (the shuffle stream's state at the epoch's start, the next batch,
       the per-batch costs and correct count so far, and the parameters the epoch started from), so
       that ``fit(..., resume=True)`` continues with the next batch and ends bit for bit where an
       uninterrupted run ends;
    2. runs the callbacks' ``on_train_end`` (early stopping restores its best parameters);
    3. returns its :class:`bpx.History` (the completed epochs) with ``history.interrupted`` set to the
       signal's name, e.g. ``"SIGINT"`` (None for a run that was not interrupted).

    A second signal of the same kind while the first is being handled is recorded again (no effect);
    outside the block the previous handlers are back. Signal handlers can only be installed from the
    main thread: elsewhere this raises ``ValueError`` (call :meth:`StopRequest.request` on
    ``bpx.training.STOP`` from your own handler instead).

    Parameters
    ----------
    signals : iterable of signal.Signals, default (SIGINT, SIGTERM)
        The signals that request a stop.

    Yields
    ------
    StopRequest
        The request record (:data:`STOP`); ``.signal`` tells whether a signal arrived.

    Raises
    ------
    ValueError
        Outside the main thread, or for a value that is not a signal.

    Examples
    --------
    >>> import bpx, numpy as np
    >>> from bpx.training import stop_on_signals
    >>> net = bpx.MLP([2, 4, 2], backend="numpy", seed=0)
    >>> with stop_on_signals():
    ...     history = net.fit(np.zeros((8, 2)), np.zeros(8, dtype=int), epochs=2, verbose=0)
    >>> history.interrupted is None
    True
    """
    if threading.current_thread() is not threading.main_thread():
        raise ValueError("stop_on_signals() installs signal handlers, which only the main thread can; "
                         "call bpx.training.STOP.request() from your own handler instead")
    signals = tuple(signals)
    for sig in signals:
        if not isinstance(sig, int) or isinstance(sig, bool):
            raise ValueError(f"signals must be signal numbers such as signal.SIGINT, got {sig!r}")

    def handler(signum, frame):
        STOP.request(_signal.Signals(signum).name)

    previous = {}
    STOP.signal = None
    try:
        for sig in signals:
            previous[sig] = _signal.signal(sig, handler)
        yield STOP
    finally:
        for sig, old in previous.items():
            _signal.signal(sig, old)
        STOP.signal = None
