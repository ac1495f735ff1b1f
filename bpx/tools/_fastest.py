"""``backend="fastest"``: time this network on every usable backend, pick the fastest, remember the choice.

:func:`choose` times a few SGD steps of one network (its widths, activations and loss) at one batch size
and dtype on each candidate backend (every usable one but array-api-strict, the conformance oracle,
which is never fast), through the same harness as ``bpx bench --hidden`` (:func:`bpx.bench.run_network`),
and returns the :class:`~bpx.Backend` with the most samples/s. The backend carries the choice and the
figures behind it (``backend.fastest``), and the choice is logged on the ``bpx.fastest`` logger.

The choice is cached in a JSON file in the user's cache directory (``$BPX_CACHE_DIR``, else
``$XDG_CACHE_HOME/bpx``, else ``~/.cache/bpx``), keyed by the machine (host, CPU, core count, the
versions of bpx and of the array libraries), the architecture, the batch size and the dtype; a cached
choice is used without timing anything. ``refresh=True`` (or ``$BPX_FASTEST_REFRESH=1``) times again.

Specs: ``"fastest"`` and ``"fastest:B"`` (batches of B rows; default :data:`DEFAULT_BATCH`).
``MLP(backend="fastest")`` times that network; :func:`bpx.get_backend` ``("fastest")``, which knows no
network, times :data:`DEFAULT_SIZES`.

``auto`` is not this, and stays as it is: ``auto`` is a rule (CuPy on a usable CUDA device, else NumPy),
so a model's numbers never depend on which library won a timing race on a loaded machine; ``fastest``
is an explicit request to let them.
"""

from __future__ import annotations

import json
import logging
import os
import time

from ..backends._backend import available_backends, dtype_name, get_backend
from ..nn._activations import get_activation
from ..nn._losses import get_loss
from ..utils._atomic import write_atomically
from ..utils._validation import check_int, check_layer_sizes

DEFAULT_SIZES = (784, 512, 512, 10)  # the standard MLP of ``bpx bench`` (workload b): choose() without sizes
DEFAULT_BATCH = 256
MOST_STEPS = 40  # SGD steps per timed call: about 0.3 GFLOP (bench.network_steps), 5 to this many
REPEATS = 3  # timed calls per backend (the median counts), after one uncounted warm-up (and compile) call
CACHE_FILE = "fastest.json"
CACHE_VERSION = 1
log = logging.getLogger("bpx.fastest")


def is_fastest(spec):
    """True for the specs ``"fastest"`` and ``"fastest:B"``."""
    return isinstance(spec, str) and spec.strip().lower().partition(":")[0].strip() == "fastest"


def parse(spec):
    """The batch size of a ``"fastest"`` / ``"fastest:B"`` spec (:data:`DEFAULT_BATCH` without one)."""
    _, _, batch = spec.strip().partition(":")
    batch = batch.strip()
    if not batch:
        return DEFAULT_BATCH
    if not batch.isdigit() or int(batch) < 1:
        raise ValueError(f"backend {spec!r}: 'fastest:B' takes a batch size B (a positive integer), got {batch!r}")
    return int(batch)


def backend_for(spec, sizes, dtype, activation, output, loss):
    """The :class:`Backend` of ``spec`` (None: ``$BPX_BACKEND``, else auto) for a network of this
    architecture: :func:`choose` for a ``fastest`` spec, else :func:`bpx.get_backend`."""
    if spec is None:
        spec = os.environ.get("BPX_BACKEND") or None
    if not is_fastest(spec):
        return get_backend(spec)
    return choose(sizes, parse(spec), dtype, activation, output, loss)


def cache_dir():
    """Where the choices are kept: ``$BPX_CACHE_DIR``, else ``$XDG_CACHE_HOME/bpx``, else ``~/.cache/bpx``."""
    if os.environ.get("BPX_CACHE_DIR"):
        return os.environ["BPX_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "bpx")


def candidates():
    """The backend specs timed: every usable eager or compiled backend but array_api_strict (torch:cuda too
    where usable); Dask is for data bigger than memory, not for the speed of a step, and is never timed."""
    specs = [name for name in available_backends() if name not in ("array_api_strict", "dask")]
    if "torch" in specs:
        try:
            get_backend("torch:cuda")
            specs.append("torch:cuda")
        except ValueError:
            pass
    return specs


def machine_key():
    """What makes a choice valid only on this machine and software: host, CPU, cores, versions."""
    import platform

    from .._version import __version__
    from ._bench import cpu_model
    from ._info import DISTRIBUTIONS
    from ._info import version as _version

    return {"host": platform.node(), "cpu": cpu_model(), "cores": os.cpu_count(), "bpx": __version__,
            "versions": {name: _version(name) for name in DISTRIBUTIONS if _version(name)}}


def time_backends(specs, sizes, batch, dtype, activation, output, loss):
    """``{spec: figures}``: for each spec, ``{"samples_per_s", "us_per_step", "compile_s"}`` from a few timed
    steps (:func:`bpx.bench.run_network`, interleaved), or ``{"error": why}``."""
    from ._bench import network_steps, run_network

    report = run_network(sizes, batch, dtype, specs=specs, activation=activation, output=output, loss=loss,
                         steps=network_steps(sizes, batch, MOST_STEPS), repeats=REPEATS, warmup=1, roof=False)
    figures = {}
    for r in report["results"]:
        spec = r.get("spec") or r["impl"][len("bpx["):-1]
        if "error" in r:
            figures[spec] = {"error": r["error"]}
        else:
            figures[spec] = {"samples_per_s": r["samples_per_s"], "us_per_step": r["us_per_step"],
                             "compile_s": r.get("compile_s")}
    return figures


def pick(figures):
    """The spec with the most samples/s among ``figures`` (those that were timed); a ``ValueError`` naming
    every failure when none was. Ties go to the earlier spec (the registry's order)."""
    timed = [(spec, f["samples_per_s"]) for spec, f in figures.items() if f.get("samples_per_s")]
    if not timed:
        why = "; ".join(f"{spec}: {f.get('error', 'not timed')}" for spec, f in figures.items()) or "no candidates"
        raise ValueError(f"backend 'fastest': no backend could be timed here ({why})")
    return max(timed, key=lambda item: item[1])[0]


def choose(sizes=DEFAULT_SIZES, batch=DEFAULT_BATCH, dtype="float32", activation="relu", output="softmax",
           loss="cross_entropy", refresh=False, specs=None, timer=None):
    """The fastest backend here for this network, batch and dtype (see the module's docstring).

    ``refresh=True`` times again even when a choice is cached; ``specs`` the candidates (default
    :func:`candidates`); ``timer`` (for tests) replaces :func:`time_backends` with the same signature.
    The returned :class:`Backend` has ``fastest``: ``{"picked", "batch", "dtype", "sizes", "figures"
    ({spec: samples/s, µs/step, compile s, or the error}), "cached" (whether the cache answered),
    "cache_file", "timed_at"}``.
    """
    sizes, batch = check_layer_sizes(sizes, "sizes"), check_int(batch, "batch")
    dtype = dtype_name(dtype)
    activation = get_activation(activation, "activation").name
    output = get_activation(output, "output").name
    loss = get_loss(loss).name
    specs = candidates() if specs is None else list(specs)
    refresh = bool(refresh) or os.environ.get("BPX_FASTEST_REFRESH", "") not in ("", "0")
    key = {"version": CACHE_VERSION, "machine": machine_key(), "sizes": sizes, "activation": activation,
           "output": output, "loss": loss, "batch": batch, "dtype": dtype, "candidates": sorted(specs)}
    path = os.path.join(cache_dir(), CACHE_FILE)
    entries = _read(path)
    text = json.dumps(key, sort_keys=True)
    entry = None if refresh else entries.get(text)
    cached = entry is not None and entry.get("picked") in specs
    if not cached:
        figures = (timer or time_backends)(specs, sizes, batch, dtype, activation, output, loss)
        entry = {"picked": pick(figures), "figures": figures,
                 "timed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        entries[text] = entry
        _write(path, entries)
    backend = get_backend(entry["picked"])
    backend.fastest = {"picked": entry["picked"], "sizes": sizes, "batch": batch, "dtype": dtype,
                       "figures": entry["figures"], "cached": cached, "cache_file": path, "timed_at": entry["timed_at"]}
    log.info("%s", describe(backend))
    return backend


def describe(backend):
    """One line: which backend ``fastest`` picked, for what, and the samples/s of every candidate."""
    c = backend.fastest
    figures = ", ".join(f"{spec} {f['samples_per_s']:,.0f}" if "samples_per_s" in f else f"{spec} failed"
                        for spec, f in sorted(c["figures"].items(), key=lambda kv: -kv[1].get("samples_per_s", 0)))
    return (f"backend 'fastest' picked {c['picked']} for MLP {'-'.join(map(str, c['sizes']))}, batch {c['batch']}, "
            f"{c['dtype']} ({'cached' if c['cached'] else 'timed'} {c['timed_at']}; samples/s: {figures})")


def _read(path):
    """The cached entries (``{key text: entry}``); an unreadable or foreign file counts as empty."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != "bpx-fastest" or not isinstance(data.get("entries"), dict):
        return {}
    return {k: v for k, v in data["entries"].items() if isinstance(v, dict) and isinstance(v.get("picked"), str)
            and isinstance(v.get("figures"), dict)}


def _write(path, entries):
    """Write the cache atomically; a cache that cannot be written is logged, never an error."""
    blob = json.dumps({"format": "bpx-fastest", "version": CACHE_VERSION, "entries": entries}, indent=1).encode()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomically(path, lambda f: f.write(blob))
    except OSError as exc:
        log.warning("backend 'fastest': could not write its cache %s (%s); the choice is not remembered", path, exc)

