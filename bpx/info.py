"""What bpx sees on this machine: versions, backends (usable or why not), devices, BLAS, TF32.

``collect()`` returns a JSON-ready dict; ``format_text`` renders it for ``bpx info``. Host-side
reporting, not math (DESIGN rule 1): it may import the array libraries to ask their versions.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys

from .backend import NAMES, backend_status

LIBRARIES = ("numpy", "array-api-compat", "array-api-strict", "torch", "cupy-cuda12x", "cupy", "threadpoolctl",
             "scikit-learn", "tqdm", "matplotlib", "h5py")
ENVIRONMENT = ("BPX_BACKEND", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
               "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "CUPY_TF32")


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _devices(status):
    devices = {"numpy": ["cpu"]}
    if status.get("array_api_strict") is None:
        import array_api_strict

        devices["array_api_strict"] = [repr(d).split("'")[1] for d in array_api_strict.__array_namespace_info__().devices()]
    if status.get("torch") is None:
        import torch

        devices["torch"] = ["cpu"] + [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
    if status.get("cupy") is None:
        import cupy

        devices["cupy"] = []
        for i in range(cupy.cuda.runtime.getDeviceCount()):
            props = cupy.cuda.runtime.getDeviceProperties(i)
            name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
            devices["cupy"].append(f"{i} ({name}, {props['totalGlobalMem'] / 2**30:.0f} GiB)")
    return devices


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


def _tf32(status):
    tf32 = {"cupy": "on (CUPY_TF32=1)" if os.environ.get("CUPY_TF32") == "1" else "off (set CUPY_TF32=1 to allow)"}
    if status.get("torch") is None:
        import torch

        tf32["torch.backends.cuda.matmul.allow_tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)
        tf32["torch.get_float32_matmul_precision()"] = torch.get_float32_matmul_precision()
    return tf32


def collect():
    """Everything ``bpx info`` reports, as a dict."""
    from . import __version__

    status = backend_status()
    blas = blas_info()
    return {
        "bpx": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "libraries": {name: _version(name) for name in LIBRARIES if _version(name)},
        "backends": {name: "usable" if status[name] is None else f"unavailable: {status[name]}" for name in NAMES},
        "auto": "cupy" if status["cupy"] is None else "numpy",
        "devices": _devices(status),
        "blas": blas if blas is not None else [{"note": "install threadpoolctl (bpx[info]) to see the BLAS in use"}],
        "tf32": _tf32(status),
        "environment": {k: os.environ[k] for k in ENVIRONMENT if k in os.environ},
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
    lines += ["", "TF32 (off unless you opt in):"]
    lines += [f"  {k}: {v}" for k, v in info["tf32"].items()]
    if info["environment"]:
        lines += ["", "environment:"]
        lines += [f"  {k}={v}" for k, v in info["environment"].items()]
    return "\n".join(lines)
