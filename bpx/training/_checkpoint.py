"""Training checkpoints: everything the rest of a run depends on, in one atomically written file.

A checkpoint is an uncompressed ``.npz`` (never pickle) holding the arrays and ``header``, a uint8 array
of UTF-8 JSON: the format name and version, the bpx version, the run's identity (architecture, dtype,
optimizer, batch size, training rows, engine: what a resume must match), the state (parameters,
optimizer state and step count, every host random stream's ``bit_generator.state``, History, epoch,
each callback's ``state_dict()``, and the position inside an epoch when a stop request ended it there),
where every array is a reference ``{"__array__": k}`` to member ``a<k>``, and a SHA-256 over the header's
state and every array. It is written with :func:`bpx.atomic.write_atomically`: a SIGKILL at any moment
leaves the previous checkpoint (or none), never half of one.
"""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np

from .._version import __version__
from ..errors import CheckpointError
from ..utils._atomic import digest, write_atomically

FORMAT = "bpx.checkpoint"
FORMAT_VERSION = 1


def _pack(obj, arrays):
    if isinstance(obj, np.ndarray):
        arrays.append(obj)
        return {"__array__": len(arrays) - 1}
    if isinstance(obj, dict):
        return {str(k): _pack(v, arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_pack(v, arrays) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    return obj


def _unpack(obj, arrays):
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return arrays[obj["__array__"]]
        if set(obj) == {"__float__"}:
            return float(obj["__float__"])
        return {k: _unpack(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unpack(v, arrays) for v in obj]
    return obj


def write(path, identity, state):
    """Write ``identity`` (JSON values) and ``state`` (JSON values and NumPy arrays) to ``path`` atomically."""
    arrays = []
    packed = _pack(state, arrays)
    body = json.dumps({"identity": identity, "state": packed}, sort_keys=True)
    blob = np.frombuffer(body.encode("utf-8"), dtype=np.uint8)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "bpx_version": __version__, "n_arrays": len(arrays),
              "sha256": digest(arrays + [blob])}
    meta = np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    members = {f"a{k}": a for k, a in enumerate(arrays)}
    write_atomically(path, lambda f: np.savez(f, header=meta, body=blob, **members))


def read(path):
    """``(identity, state)`` of a checkpoint, checked (format, version, checksum); raises CheckpointError."""
    if not zipfile.is_zipfile(path):
        raise CheckpointError(path, "not a bpx checkpoint (not an .npz archive; truncated or foreign)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "header" not in npz.files or "body" not in npz.files:
                raise CheckpointError(path, "not a bpx checkpoint (no header)")
            header = json.loads(npz["header"].tobytes().decode("utf-8"))
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise CheckpointError(path, f"not a bpx checkpoint (format {header.get('format')!r}; a model file "
                                            f"is loaded with bpx.load)" if isinstance(header, dict) else
                                      "not a bpx checkpoint")
            version = header.get("format_version")
            if not isinstance(version, int) or version > FORMAT_VERSION:
                raise CheckpointError(path, f"written in checkpoint format {version!r} by bpx "
                                            f"{header.get('bpx_version')}; this bpx reads format {FORMAT_VERSION}")
            blob = npz["body"]
            arrays = [npz[f"a{k}"] for k in range(header["n_arrays"])]
    except CheckpointError:
        raise
    except (ValueError, OSError, EOFError, KeyError, TypeError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise CheckpointError(path, f"unreadable ({exc})") from None
    if digest(arrays + [blob]) != header.get("sha256"):
        raise CheckpointError(path, "checksum mismatch: the checkpoint was corrupted or altered")
    body = json.loads(blob.tobytes().decode("utf-8"))
    return body["identity"], _unpack(body["state"], arrays)


def check_identity(path, saved, current):
    """Refuse a checkpoint of another run, naming every difference."""
    names = {"engine": "engine (its batches and positions are its own)",
             "architecture": "architecture", "dtype": "dtype", "optimizer": "optimizer", "batch_size": "batch size",
             "rows": "training rows"}
    diffs = [f"{names.get(k, k)}: checkpoint {saved.get(k)!r}, this fit {v!r}" for k, v in current.items()
             if saved.get(k) != v]
    if diffs:
        raise CheckpointError(path, "the checkpoint is of another run (" + "; ".join(diffs) + "); resume with the "
                                    "same network, optimizer, batch size and data, or use another checkpoint path")
