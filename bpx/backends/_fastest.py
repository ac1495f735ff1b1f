"""``backend="fastest"``: the request, the decision, the record of it and its cache (nothing here times).

This module decides; it never runs a network. The timing is :mod:`bpx.training` 's
(:func:`bpx.training.time_backends`: a few training epochs of the very network, through the training loop,
built by a function the model hands in), so the choice sits below the model and the model's import path
holds neither the benchmark harness nor anything above it (docs/development/architecture.md, the layers).

- :class:`Fastest` is the request: the batch size and the planned number of training steps
  (``"fastest"``/``"fastest:B"`` are its spec strings; ``bpx train --backend fastest`` passes the run's own
  batch size and ``epochs × steps per epoch``).
- :func:`choose_fastest` picks (:func:`decide`) the backend whose **planned run** is shortest: its compile
  time (the first call minus the steady-state median) plus ``planned_steps`` × its seconds per step. A backend that could not
  run this network (dtype, precision, a missing library) is rejected with its reason.
- :class:`FastestChoice` is the record: which backend, the figures, every rejected backend's reason, the
  cache file. The :class:`~bpx.Backend` returned carries it as ``backend.chosen_by`` (a declared
  attribute that copies and pickles with the backend).
- The cache is a JSON file in ``$BPX_CACHE_DIR``, else ``$XDG_CACHE_HOME/bpx``, else ``~/.cache/bpx``,
  keyed by everything that changes the answer: the host, CPU and core count; bpx's version **and** a
  fingerprint of its source files (an editable install keeps its version string while its code
  changes); the array libraries' versions; the network; batch; dtype; precision; planned steps; the
  candidates (those named, or "every usable one" with the settings that decide usability, so that a
  cached answer probes no library: importing torch and JAX takes seconds). Entries older than
  :data:`MAX_AGE_DAYS`, entries of this host made by other software, and all but the newest
  :data:`MAX_ENTRIES` are pruned whenever the file is written.
"""

from __future__ import annotations

import calendar
import dataclasses
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import time

from .._version import __version__
from ..utils._atomic import write_atomically
from ._backend import available_backends, get_backend
from ._libraries import LIBRARIES

DEFAULT_BATCH = 256  # rows per step timed by "fastest" without ":B"
DEFAULT_PLANNED_STEPS = 1000  # training steps a Python MLP(backend="fastest") plans for (compile time amortised)
CACHE_FILE = "fastest.json"
CACHE_VERSION = 2
MAX_ENTRIES = 64
MAX_AGE_DAYS = 90
USABILITY = ("JAX_ENABLE_X64", "JAX_PLATFORMS", "CUDA_VISIBLE_DEVICES")  # settings that change what can run
log = logging.getLogger("bpx.fastest")


@dataclasses.dataclass(frozen=True)
class Fastest:
    """A request for the fastest backend of a network: time it at ``batch`` rows per step, and count each
    backend's compile time against ``planned_steps`` training steps.

    ``MLP(backend=Fastest(batch=32, planned_steps=20_000))``; the strings ``"fastest"`` and
    ``"fastest:B"`` mean ``Fastest()`` and ``Fastest(batch=B)``.

    Parameters
    ----------
    batch : int, default DEFAULT_BATCH (256)
        Rows per training step, as the run will use.
    planned_steps : int, default DEFAULT_PLANNED_STEPS (1000)
        How many steps the run will take (``epochs × ceil(samples / batch)``).
    candidates : sequence of str, optional
        The backend specs to time (default :func:`candidates`: every usable one but array_api_strict and
        dask).
    refresh : bool, default False
        Time again even when the cache holds an answer (also ``$BPX_FASTEST_REFRESH=1``).

    Raises
    ------
    ValueError
        If ``batch`` or ``planned_steps`` is not a positive integer, or ``candidates`` is empty."""

    batch: int = DEFAULT_BATCH
    planned_steps: int = DEFAULT_PLANNED_STEPS
    candidates: tuple | None = None
    refresh: bool = False

    def __post_init__(self):
        for name in ("batch", "planned_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Fastest: {name} must be a positive integer, got {value!r}")
        if self.candidates is not None:
            if isinstance(self.candidates, str) or not all(isinstance(c, str) for c in self.candidates) \
                    or not self.candidates:
                raise ValueError(f"Fastest: candidates must be a non-empty list of backend specs, got {self.candidates!r}")
            object.__setattr__(self, "candidates", tuple(self.candidates))
        object.__setattr__(self, "refresh", bool(self.refresh))

    @property
    def spec(self):
        return f"fastest:{self.batch}"


@dataclasses.dataclass(frozen=True)
class FastestChoice:
    """Why a backend was chosen: ``picked`` (its spec), the ``network`` and ``request`` it was chosen for,
    ``figures`` (per timed spec: samples/s, µs/step, compile s, the planned run's seconds), ``rejected``
    (per spec that could not run this network: the reason), ``cached`` (whether the cache answered),
    ``cache_file`` and ``timed_at`` (UTC)."""

    picked: str
    network: dict
    request: Fastest
    figures: dict
    rejected: dict
    cached: bool
    cache_file: str
    timed_at: str

    def describe(self):
        """One line: the pick, what it was chosen for, every candidate's planned run or reason, the cache."""
        net = self.network
        timed = sorted(((spec, f) for spec, f in self.figures.items()), key=lambda kv: kv[1]["planned_s"])
        shown = [f"{spec} {f['planned_s']:.3g} s ({f['samples_per_s']:,.0f} samples/s"
                 + (f", compile {f['compile_s']:.2g} s" if f.get("compile_s") else "") + ")" for spec, f in timed]
        shown += [f"{spec} rejected: {why}" for spec, why in self.rejected.items()]
        what = (f"MLP {'-'.join(map(str, net['layer_sizes']))}, batch {self.request.batch}, {net['dtype']}"
                + (f", precision {net['precision']}" if net.get("precision") else "")
                + f", {self.request.planned_steps:,} planned steps")
        return (f"backend 'fastest' picked {self.picked} for {what} ({'cached' if self.cached else 'timed'} "
                f"{self.timed_at}; planned run: {'; '.join(shown)}; cache {self.cache_file})")

    def as_dict(self):
        """A JSON-ready dict of the record."""
        return dataclasses.asdict(self)


def is_fastest(spec):
    """True for a :class:`Fastest` request and the specs ``"fastest"`` and ``"fastest:B"``."""
    if isinstance(spec, Fastest):
        return True
    return isinstance(spec, str) and spec.strip().lower().partition(":")[0].strip() == "fastest"


def parse(spec):
    """The :class:`Fastest` request of a ``"fastest"`` / ``"fastest:B"`` spec (or of a request itself)."""
    if isinstance(spec, Fastest):
        return spec
    _, _, batch = spec.strip().partition(":")
    batch = batch.strip()
    if not batch:
        return Fastest()
    if not batch.isdigit() or int(batch) < 1:
        raise ValueError(f"backend {spec!r}: 'fastest:B' takes a batch size B (a positive integer), got {batch!r}")
    return Fastest(batch=int(batch))


def candidates():
    """The backend specs timed: every usable eager or compiled backend but array_api_strict (the
    conformance oracle, never fast), torch:cuda too where usable; Dask is for data bigger than memory, not
    for the speed of a step, and is never timed."""
    specs = [name for name in available_backends() if name not in ("array_api_strict", "dask")]
    if "torch" in specs:
        try:
            get_backend("torch:cuda")
            specs.append("torch:cuda")
        except ValueError:
            pass
    return specs


def cache_dir():
    """Where the choices are kept: ``$BPX_CACHE_DIR``, else ``$XDG_CACHE_HOME/bpx``, else ``~/.cache/bpx``."""
    if os.environ.get("BPX_CACHE_DIR"):
        return os.environ["BPX_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "bpx")


def cache_path():
    """The cache file: :func:`cache_dir` / ``fastest.json``."""
    return os.path.join(cache_dir(), CACHE_FILE)


def cpu_model():
    """The CPU model name (from /proc/cpuinfo on Linux, else platform.processor())."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def source_fingerprint():
    """A hash of bpx's own source files (names, sizes, modification times): changes when the code does,
    which the version string of an editable install does not say."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    h = hashlib.sha256()
    for folder, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".py"):
                st = os.stat(os.path.join(folder, name))
                h.update(f"{os.path.relpath(os.path.join(folder, name), root)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def library_versions():
    """``{distribution: version}`` of numpy, array-api-compat and every registered array library."""
    out = {}
    for dist in dict.fromkeys(("numpy", "array-api-compat", *(d for lib in LIBRARIES.values() for d in lib.distributions))):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def machine_key():
    """What makes a choice valid only on this machine and software: host, CPU, cores, bpx's version and
    source fingerprint, the array libraries' versions."""
    return {"host": platform.node(), "cpu": cpu_model(), "cores": os.cpu_count(), "bpx": __version__,
            "source": source_fingerprint(), "versions": library_versions()}


def decide(figures):
    """``(picked, timed, rejected)`` from a timer's ``figures`` (``{spec: {"us_per_step", "compile_s",
    "samples_per_s", ...} or {"error": why}}``): ``timed`` keeps the figures with ``planned_s`` (compile s +
    planned steps × s/step, set by :func:`plan`), ``rejected`` the reasons; the pick is the shortest planned
    run, ties to the earlier spec. A ``ValueError`` naming every reason when nothing could be timed."""
    timed = {spec: f for spec, f in figures.items() if "error" not in f and f.get("planned_s") is not None}
    rejected = {spec: f.get("error", "not timed") for spec, f in figures.items() if spec not in timed}
    if not timed:
        why = "; ".join(f"{spec}: {reason}" for spec, reason in rejected.items()) or "no candidates"
        raise ValueError(f"backend 'fastest': no backend could run this network here ({why})")
    return min(timed, key=lambda spec: timed[spec]["planned_s"]), timed, rejected


def plan(figures, planned_steps):
    """``figures`` with each timed spec's ``planned_s``: its compile time plus ``planned_steps`` steps."""
    out = {}
    for spec, f in figures.items():
        f = dict(f)
        if "error" not in f:
            f["planned_s"] = (f.get("compile_s") or 0.0) + planned_steps * f["us_per_step"] * 1e-6
        out[spec] = f
    return out


def choose_fastest(network, request, timer):
    """The :class:`Backend` whose planned run of ``network`` is shortest here, carrying its
    :class:`FastestChoice` as ``chosen_by``; answered from the cache when this question was asked before.

    ``network`` is the JSON-ready description of the network (its constructor's arguments but the
    backend); ``request`` a :class:`Fastest` (or its spec string); ``timer(specs, batch)`` returns the
    figures per spec (:func:`bpx.training.time_backends`; tests pass a fake). The choice is said on
    the ``bpx.fastest`` logger at WARNING level (the pick, every rejection with its reason, the cache file)
    when it was timed, at INFO when the cache answered."""
    request = parse(request)
    refresh = request.refresh or os.environ.get("BPX_FASTEST_REFRESH", "") not in ("", "0")
    machine = machine_key()
    # every usable backend: keyed by what decides usability (installed versions, in machine; these settings),
    # so a cached answer needs no probe of the libraries (importing torch and jax takes seconds)
    wanted = sorted(request.candidates) if request.candidates is not None else \
        {"every usable": {name: os.environ.get(name) for name in USABILITY}}
    key = json.dumps({"version": CACHE_VERSION, "machine": machine, "network": network, "batch": request.batch,
                      "planned_steps": request.planned_steps, "candidates": wanted}, sort_keys=True)
    path = cache_path()
    entries = _read(path)
    entry = None if refresh else entries.get(key)
    backend = _usable(entry["picked"]) if entry is not None else None
    cached = backend is not None
    if not cached:
        specs = candidates() if request.candidates is None else list(request.candidates)
        figures = plan(timer(specs, request.batch), request.planned_steps)
        picked, timed, rejected = decide(figures)
        entry = {"picked": picked, "figures": timed, "rejected": rejected, "machine": machine,
                 "timed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        entries[key] = entry
        _write(path, prune(entries, machine))
        backend = get_backend(picked)
    choice = FastestChoice(entry["picked"], network, request, entry["figures"], entry.get("rejected", {}), cached,
                           path, entry["timed_at"])
    log.log(logging.INFO if cached else logging.WARNING, "%s", choice.describe())
    return backend.chosen(choice)


def _usable(spec):
    """The backend of a cached pick, or None when it is no longer usable here (then it is timed again)."""
    try:
        return get_backend(spec)
    except ValueError:
        return None


def prune(entries, machine, now=None):
    """The entries worth keeping: none older than :data:`MAX_AGE_DAYS`, none of this host made by other
    software (another bpx source, another library version: they can never answer again), and only the
    newest :data:`MAX_ENTRIES`."""
    now = time.time() if now is None else now
    kept = []
    for key, entry in entries.items():
        try:
            stamp = calendar.timegm(time.strptime(entry["timed_at"], "%Y-%m-%dT%H:%M:%SZ"))
        except (KeyError, TypeError, ValueError):
            continue
        other = entry.get("machine") or {}
        if now - stamp > MAX_AGE_DAYS * 86400 or (other.get("host") == machine["host"] and other != machine):
            continue
        kept.append((stamp, key, entry))
    kept.sort(key=lambda item: item[0])
    return {key: entry for _, key, entry in kept[-MAX_ENTRIES:]}


def cached_choices():
    """The cached entries (``[{"picked", "network", "batch", "planned_steps", "timed_at"}, ...]``) made on
    this machine with this software: what ``bpx info`` lists."""
    machine, out = machine_key(), []
    for key, entry in _read(cache_path()).items():
        try:
            k = json.loads(key)
        except ValueError:
            continue
        if k.get("machine") == machine:
            out.append({"picked": entry["picked"], "network": k.get("network"), "batch": k.get("batch"),
                        "planned_steps": k.get("planned_steps"), "timed_at": entry.get("timed_at")})
    return out


def _read(path):
    """The cached entries (``{key text: entry}``); an unreadable or foreign file counts as empty."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != "bpx-fastest" or data.get("version") != CACHE_VERSION \
            or not isinstance(data.get("entries"), dict):
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

