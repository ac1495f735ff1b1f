"""What bpx sees on this machine: versions, backends (usable or why not), devices, BLAS, TF32.

``collect()`` returns a JSON-ready dict; ``format_text`` renders it for ``bpx info``. Host-side
reporting, not math (DESIGN rule 1): it may import the array libraries to ask their versions.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys

from .._version import __version__
from ..backends._backend import auto_name, backend_status, probe
from ..backends._fastest import cache_path, cached_choices
from ..backends._libraries import LIBRARIES
from ..backends._matmul_precision import describe as matmul_precision
from ..utils._extras import install_hint

# the array libraries' own distributions come from the registry; these are the others worth reporting
DISTRIBUTIONS = ("numpy", "array-api-compat", *(d for lib in LIBRARIES.values() for d in lib.distributions
                                                 if d != "numpy"),
                 "threadpoolctl", "scikit-learn", "tqdm", "matplotlib", "h5py")
ENVIRONMENT = ("BPX_BACKEND", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
               "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "CUPY_TF32", "BPX_TF32",
               "XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_FLAGS")


def version(dist):
    """The installed version of distribution ``dist``, or None."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _devices(status):
    return {name: lib.devices(probe(name)[0]) for name, lib in LIBRARIES.items() if status[name] is None}


def blas_info():
    """The BLAS libraries loaded (numpy's included) as threadpoolctl sees them, with their threads;
    None when threadpoolctl is not installed."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    import array_api_compat.numpy  # noqa: F401  (loads numpy's BLAS so threadpoolctl can see it)

    keys = ("internal_api", "version", "num_threads", "threading_layer", "architecture", "filepath")
    return [{k: pool.get(k) for k in keys if pool.get(k) is not None} for pool in threadpool_info()
            if pool.get("user_api") == "blas"]


def _settings(status):
    """The matmul-precision rule (TF32 only with ``BPX_TF32=1``) and each library's numerics settings."""
    settings = {"bpx matmul precision": matmul_precision()}
    for lib in LIBRARIES.values():
        settings.update(lib.settings())
    return settings


def collect():
    """Everything ``bpx info`` reports, as a dict."""
    status = backend_status()
    blas = blas_info()
    return {
        "bpx": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "libraries": {name: version(name) for name in DISTRIBUTIONS if version(name)},
        "backends": {name: "usable" if status[name] is None else f"unavailable: {status[name]}" for name in LIBRARIES},
        "auto": auto_name(),
        "devices": _devices(status),
        "blas": blas if blas is not None else [{"note": f"install threadpoolctl ({install_hint('info')}) for the BLAS"}],
        "tf32": _settings(status),
        "environment": {k: os.environ[k] for k in ENVIRONMENT if k in os.environ},
        "fastest": {"cache_file": cache_path(), "choices": cached_choices()},
    }


def format_text(info):
    lines = [f"bpx {info['bpx']} on Python {info['python']} ({info['platform']}, {info['cpu_count']} CPUs)", "", "libraries:"]
    lines += [f"  {name:18} {version}" for name, version in info["libraries"].items()]
    lines += ["", f"backends (auto -> {info['auto']}):"]
    lines += [f"  {name:18} {state}" for name, state in info["backends"].items()]
    lines += ["", "devices:"]
    lines += [f"  {name:18} {', '.join(devs) or '-'}" for name, devs in info["devices"].items()]
    lines += ["", "BLAS (threadpoolctl):"]
    for pool in info["blas"]:
        lines.append("  " + ", ".join(f"{k}={v}" for k, v in pool.items()))
    lines += ["", "matmul precision and TF32 (BPX_TF32=1 opts in on every backend):"]
    lines += [f"  {k}: {v}" for k, v in info["tf32"].items()]
    if info["environment"]:
        lines += ["", "environment:"]
        lines += [f"  {k}={v}" for k, v in info["environment"].items()]
    fastest = info["fastest"]
    lines += ["", f"backend='fastest' (cache {fastest['cache_file']}; this machine and software):"]
    lines += [f"  {c['picked']:18} for MLP {'-'.join(map(str, c['network']['layer_sizes']))} {c['network']['dtype']}"
              + (f" {c['network']['precision']}" if c["network"].get("precision") else "")
              + f", batch {c['batch']}, {c['planned_steps']:,} planned steps (timed {c['timed_at']})"
              for c in fastest["choices"]] or ["  no choice cached yet"]
    return "\n".join(lines)
