"""``backend="fastest"``'s timing: a few epochs of the very network through the training loop, per backend.

The decision, its record and its cache are :mod:`bpx.backends` ' (:func:`bpx.backends.choose_fastest`); this module
measures what it decides on, below the model: the model hands in ``build(spec)``, a function that builds
the same network on another backend, so nothing here imports the model, and the benchmark harness
(:mod:`bpx.tools`, above) is never on the model's import path (docs/development/architecture.md).

Each candidate trains the network it is asked about (its widths, activations, loss, dtype, precision,
dropout) at the run's own batch size, ``steps`` SGD steps per timed call, over synthetic data: one
uncounted first call (allocations and, on compiling libraries, the compilation), then :data:`REPEATS`
calls timed round-robin across the backends (a change in the machine's load hits all alike). The
figures: µs/step and samples/s (the median call), ``first_call_s`` and ``compile_s`` (the first call
minus the median: what the run pays once, counted against its planned steps by the decision). A backend
that cannot build or train this network gives its reason instead.
"""

from __future__ import annotations

import functools
import os
import statistics
import time

import numpy as np

from ..backends._backend import get_backend
from ..backends._fastest import choose_fastest, is_fastest, parse
from ..optimizers._first_order import SGD
from ._loop import fit

REPEATS = 3  # timed calls per backend (the median counts), after one uncounted first call
MOST_STEPS = 40  # SGD steps per timed call: about 0.3 GFLOP, at least 5, at most this many


def backend_for(spec, network, build):
    """The :class:`~bpx.Backend` of ``spec`` (None: ``$BPX_BACKEND``, else auto) for a network described by
    ``network`` (its constructor's arguments but the backend, JSON-ready) and built on a backend by
    ``build(spec)``: :func:`bpx.backends.choose_fastest` timed by :func:`time_backends` for a ``"fastest"`` spec or
    a :class:`bpx.backends.Fastest` request, else :func:`bpx.get_backend`."""
    if spec is None:
        spec = os.environ.get("BPX_BACKEND") or None
    if not is_fastest(spec):
        return get_backend(spec)
    request = parse(spec)
    steps = steps_per_call(network["layer_sizes"], request.batch)
    return choose_fastest(network, request, functools.partial(time_backends, build, steps=steps))


def steps_per_call(layer_sizes, batch, most=MOST_STEPS):
    """SGD steps per timed call: about 0.3 GFLOP (a step is ≈ 6·batch·Σ n_in·n_out FLOPs), 5 to ``most``."""
    flops = 6 * batch * sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
    return max(5, min(most, int(3e8 // max(1, flops))))


def time_backends(build, specs, batch, steps=5, repeats=REPEATS, clock=time.perf_counter):
    """``{spec: figures}``: each spec's ``{"samples_per_s", "us_per_step", "first_call_s", "compile_s",
    "steps"}`` from training ``build(spec)`` for ``steps`` steps of ``batch`` rows per call (see the
    module's docstring), or ``{"error": why}`` for a backend that could not build or train it.
    ``clock`` (seconds, monotonic) is read around every call; tests pass a fake one."""
    jobs, figures, first = {}, {}, {}
    for spec in specs:
        try:
            net = build(spec)
            X, Y = _synthetic(net.layer_sizes, steps * batch, net.dtype)
            X, Y = net.backend.asarray(X, net.dtype), net.backend.asarray(Y, net.dtype)
        except (ValueError, TypeError, ImportError, RuntimeError) as exc:
            figures[spec] = {"error": _reason(exc)}
            continue
        jobs[spec] = (functools.partial(fit, net, X, Y, epochs=1, batch_size=batch, optimizer=SGD(lr=0.01),
                                        shuffle=False, verbose=0), net.backend.synchronize)
    times = {spec: [] for spec in jobs}
    for round_ in range(1 + max(1, repeats)):
        for spec, (run, sync) in list(jobs.items()):
            try:
                sync()
                start = clock()
                run()
                sync()
            except Exception as exc:  # noqa: BLE001 -- a backend's own failure rejects it, with its reason
                figures[spec] = {"error": _reason(exc)}
                del jobs[spec]
                continue
            if round_ == 0:
                first[spec] = clock() - start
            else:
                times[spec].append(clock() - start)
    for spec in jobs:
        median = statistics.median(times[spec])
        figures[spec] = {"samples_per_s": steps * batch / median, "us_per_step": median / steps * 1e6,
                         "first_call_s": first[spec], "compile_s": max(0.0, first[spec] - median), "steps": steps}
    return {spec: figures[spec] for spec in specs}


def _synthetic(layer_sizes, rows, dtype):
    """Fixed-seed inputs in [0, 1) and one-hot targets (valid for every loss: 0/1, non-negative)."""
    rng = np.random.default_rng(0)
    X = rng.random((rows, layer_sizes[0])).astype(dtype)
    Y = np.zeros((rows, layer_sizes[-1]), dtype=dtype)
    Y[np.arange(rows), rng.integers(0, layer_sizes[-1], rows)] = 1
    return X, Y


def _reason(exc):
    """A rejection's reason: the error's own message (its type when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
