"""Training checkpoints: everything the rest of a run depends on, in one atomically written file.

A checkpoint is an uncompressed ``.npz`` (never pickle) holding the arrays and ``header``, a uint8 array
of UTF-8 JSON: the format name and version, the bpx version, the run's identity (architecture, dtype,
optimizer, batch size, training rows, engine, and a :func:`fingerprint` of the training and validation
data: what a resume must match), the state (parameters,
optimizer state and step count, every host random stream's ``bit_generator.state``, History, epoch,
each callback's ``state_dict()``, and the position inside an epoch when a stop request ended it there),
where every array is a reference ``{"__array__": k}`` to member ``a<k>``, and a SHA-256 over the header's
state and every array. It is written with :func:`bpx.atomic.write_atomically`: a SIGKILL at any moment
leaves the previous checkpoint (or none), never half of one.

The format version changes only when an older bpx could no longer read a file correctly. A setting
added to the identity is not such a change: an older bpx ignores the keys it does not know, and this one
resumes a checkpoint that lacks a key added since (:data:`ADDED_KEYS`: the data fingerprints) with a
warning that the setting could not be checked (docs/guide/training.md, "The same command, again").
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings

import numpy as np

from .._version import __version__
from ..errors import CheckpointError
from ..nn._layers import param_layout
from ..optimizers._loss_scaling import GOOD, SCALE
from ..utils._atomic import digest, write_atomically
from ..utils._npz import read_npz
from ._history import METRICS

FORMAT = "bpx.checkpoint"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 1 << 16  # the header: format, version, counts and the checksum
MAX_BODY_BYTES = 1 << 28  # the JSON body: identity, History, callback states (arrays are members of their own)
MAX_ARRAYS = 1 << 16
SAMPLE_ROWS = 1024  # the rows of each data array a fingerprint reads: evenly spaced, the first and last included
SAMPLE_VALUES = 1 << 21  # and at most this many values in all (16 MiB as float64), for very wide data
ADDED_KEYS = ("data", "validation")  # identity keys a checkpoint of an older bpx lacks: resumed with a warning


def pack(obj, arrays):
    if isinstance(obj, np.ndarray):
        arrays.append(obj)
        return {"__array__": len(arrays) - 1}
    if isinstance(obj, dict):
        return {str(k): pack(v, arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [pack(v, arrays) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    return obj


def unpack(obj, arrays):
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            k = obj["__array__"]
            if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < len(arrays):
                raise ValueError(f"a reference to array {k!r} of {len(arrays)}")
            return arrays[k]
        if set(obj) == {"__float__"}:
            if obj["__float__"] not in ("nan", "inf", "-inf"):
                raise ValueError(f"a non-finite number written as {obj['__float__']!r}")
            return float(obj["__float__"])
        return {k: unpack(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [unpack(v, arrays) for v in obj]
    return obj


def write(path, identity, state):
    """Write ``identity`` (JSON values) and ``state`` (JSON values and NumPy arrays) to ``path`` atomically."""
    arrays = []
    packed = pack(state, arrays)
    body = json.dumps({"identity": identity, "state": packed}, sort_keys=True)
    blob = np.frombuffer(body.encode("utf-8"), dtype=np.uint8)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "bpx_version": __version__, "n_arrays": len(arrays),
              "sha256": digest(arrays + [blob])}
    meta = np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    members = {f"a{k}": a for k, a in enumerate(arrays)}
    write_atomically(path, lambda f: np.savez(f, header=meta, body=blob, **members))


def read(path):
    """``(identity, state)`` of a checkpoint, checked (format, version, checksum); raises CheckpointError.

    Read through :func:`bpx.utils.read_npz` (a regular file, uncompressed members, no duplicates or
    odd names, well-formed ``.npy`` headers), the header and the body bounded by :data:`MAX_HEADER_BYTES`
    and :data:`MAX_BODY_BYTES` before they are read; each array by the bytes the checkpoint's own
    architecture and rows allow."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"checkpoint must be a str or os.PathLike, got {type(path).__name__}")

    def error(reason):
        return CheckpointError(path, reason)

    first = read_npz(path, error, limit=lambda name: {"header": MAX_HEADER_BYTES, "body": MAX_BODY_BYTES}.get(name, 0),
                     names={"header", "body"}, kind="checkpoint")
    if "header" not in first or "body" not in first:
        raise CheckpointError(path, "not a bpx checkpoint (no header)")
    header = _json(path, first["header"], "header")
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(path, f"not a bpx checkpoint (format {header.get('format')!r}; a model file "
                                    f"is loaded with bpx.load)" if isinstance(header, dict) else "not a bpx checkpoint")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= FORMAT_VERSION:
        raise CheckpointError(path, f"written in checkpoint format {version!r} by bpx "
                                    f"{header.get('bpx_version')}; this bpx reads format {FORMAT_VERSION}")
    n_arrays = header.get("n_arrays")
    if not isinstance(n_arrays, int) or isinstance(n_arrays, bool) or not 0 <= n_arrays <= MAX_ARRAYS:
        raise CheckpointError(path, f"malformed header: n_arrays {n_arrays!r}")
    blob = first["body"]
    body = _json(path, blob, "body")
    if not isinstance(body, dict) or not isinstance(body.get("identity"), dict) or "state" not in body:
        raise CheckpointError(path, "malformed body: no identity and state")
    limit = _array_limit(body["identity"])
    members = read_npz(path, error, limit=lambda name: None if name in ("header", "body") else limit, kind="checkpoint")
    names = {f"a{k}" for k in range(n_arrays)}
    if set(members) != names | {"header", "body"}:
        raise CheckpointError(path, f"holds arrays {sorted(set(members) - {'header', 'body'})[:8]}, the header "
                                    f"declares {n_arrays}")
    arrays = [members[f"a{k}"] for k in range(n_arrays)]
    if digest(arrays + [blob]) != header.get("sha256"):
        raise CheckpointError(path, "checksum mismatch: the checkpoint was corrupted or altered")
    try:
        state = unpack(body["state"], arrays)
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(path, f"malformed state ({exc})") from None
    return body["identity"], state


def _json(path, blob, what):
    if blob.dtype != np.uint8 or blob.ndim != 1:
        raise CheckpointError(path, f"malformed {what} (not UTF-8 JSON bytes)")
    try:
        return json.loads(blob.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(path, f"malformed {what} ({exc})") from None
    except RecursionError:
        raise CheckpointError(path, f"malformed {what} (nested too deeply)") from None


def _array_limit(identity):
    """The most bytes one array of a checkpoint with this identity holds: a flat float64 vector of every
    parameter (L-BFGS's memory) or one index per training row, whichever is larger."""
    arch = identity.get("architecture")
    sizes = arch.get("layer_sizes") if isinstance(arch, dict) else None
    rows = identity.get("rows")
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes)):
        return 0
    n_params = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    rows = rows if isinstance(rows, int) and not isinstance(rows, bool) and rows > 0 else 0
    return 8 * max(n_params, rows, 1)


def check_state(path, state, epochs, identity, optimizer, rng_type=np.random.PCG64):
    """Refuse (CheckpointError) a checkpoint state that does not fit its run, before anything is restored:
    an epoch outside ``0..epochs`` (a resume goes on to ``epochs`` in total), parameters of other shapes,
    dtypes or with NaN, an optimizer state of another class or with attributes the optimizer does not
    have (or, without a callback that could change it, another learning rate), a malformed random
    stream, History or callback list.

    ``optimizer`` is the run's optimizer, not yet restored (its class and hyperparameters)."""
    def bad(reason):
        return CheckpointError(path, f"the checkpoint's state does not fit this run: {reason}")

    if not isinstance(state, dict):
        raise bad("not a mapping")
    missing = [k for k in ("epoch", "finished", "params", "optimizer", "rng", "history", "callbacks", "position")
               if k not in state]
    if missing:
        raise bad(f"no {', '.join(missing)}")
    epoch = state["epoch"]
    if not _is_int(epoch) or epoch < 0:
        raise bad(f"epoch {epoch!r} is not a count of epochs")
    if epoch > epochs:
        raise CheckpointError(path, f"the checkpoint already holds {epoch} complete epochs, more than epochs={epochs}; "
                                    f"a resume goes on to epochs in total: give epochs={epoch} or more (or another "
                                    f"checkpoint path to start anew)")
    if not isinstance(state["finished"], bool):
        raise bad(f"finished {state['finished']!r} is not true or false")
    arch = identity.get("architecture", {})
    layout = param_layout(arch["layer_sizes"], arch["bias"])
    params = state["params"]
    if not isinstance(params, list) or len(params) != len(layout):
        raise bad(f"{len(params) if isinstance(params, list) else params!r} parameter arrays, the network has "
                  f"{len(layout)}")
    dtype = identity.get("dtype")
    for (name, shape), a in zip(layout, params):
        if not isinstance(a, np.ndarray) or a.shape != tuple(shape) or a.dtype.kind != "f":
            raise bad(f"parameter {name} is {_describe(a)}, the network needs {tuple(shape)} floats")
        if dtype in ("float32", "float64") and a.dtype.name != dtype:
            raise bad(f"parameter {name} has dtype {a.dtype}, the run's is {dtype}")
        if not np.all(np.isfinite(a)):
            raise bad(f"parameter {name} holds NaN or infinite values")
    _check_optimizer(bad, state["optimizer"], optimizer, [tuple(s) for _, s in layout], state["callbacks"])
    rng = state["rng"]
    if not isinstance(rng, dict):
        raise bad("malformed random streams")
    for key in ("shuffle", "dropout", "fit_start"):
        try:
            rng_type().state = rng[key]
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise bad(f"malformed random stream {key!r} ({type(exc).__name__}: {exc})") from None
    history = state["history"]
    if (not isinstance(history, dict) or not isinstance(history.get("metrics"), dict)
            or any(not isinstance(history["metrics"].get(k), list)
                   or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in history["metrics"][k])
                   for k in METRICS)
            or not (history.get("best_epoch") is None or _is_int(history.get("best_epoch")))
            or not isinstance(history.get("stopped_early"), bool)):
        raise bad("malformed History")
    if len(history["metrics"]["loss"]) > epoch:
        raise bad(f"a History of {len(history['metrics']['loss'])} epochs for {epoch} complete epochs")
    callbacks = state["callbacks"]
    if not isinstance(callbacks, list) or not all(
            isinstance(c, dict) and isinstance(c.get("type"), str) and isinstance(c.get("state"), dict) for c in callbacks):
        raise bad("malformed callback states")
    if state["position"] is not None and not isinstance(state["position"], dict):
        raise bad("malformed position inside an epoch")


# callbacks that never change an optimizer's hyperparameters (any other one, a user's too, may)
_INERT = {"EarlyStopping", "CSVLogger", "ModelCheckpoint", "RunSettings", "Progress", "History"}


def _check_optimizer(bad, saved, optimizer, shapes, callbacks):
    fresh, kind = optimizer.state_dict(), type(optimizer)
    if not isinstance(saved, dict) or saved.get("type") != fresh["type"]:
        kind = saved.get("type") if isinstance(saved, dict) else saved
        raise bad(f"an optimizer state of {kind!r}, the run's optimizer is {fresh['type']}")
    hyper = saved.get("hyper")
    if not isinstance(hyper, dict) or not set(fresh["hyper"]) <= set(hyper):
        keys = sorted(set(fresh["hyper"]) - set(hyper)) if isinstance(hyper, dict) else hyper
        raise bad(f"the optimizer state lacks {keys!r}")
    for key, value in hyper.items():  # attributes a run adds (L-BFGS's done): plain values, never a method's name
        if key not in fresh["hyper"] and (not key.isidentifier() or key.startswith("_") or hasattr(kind, key)
                                          or not (value is None or isinstance(value, (bool, int, float, str)))):
            raise bad(f"optimizer attribute {key!r} = {_short(value)}, which {fresh['type']} does not have")
    may_change = any(isinstance(c, dict) and str(c.get("type", "")).split("#")[0] not in _INERT for c in callbacks or [])
    settings = repr(optimizer)  # the identity's optimizer: its hyperparameters are fixed for the whole run
    for key, value in hyper.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise bad(f"optimizer attribute {key} is {value!r}")
        if key not in fresh["hyper"] or not (re.search(rf"[(, ]{key}=", settings) or key in ("clip_norm", "clip_value")):
            continue  # the run's own counters and results (L-BFGS's n_iter, fun, ...)
        want = fresh["hyper"][key]
        if type(value) is not type(want) and not (isinstance(want, float) and _is_int(value)):
            raise bad(f"optimizer attribute {key} is {value!r}, a {type(want).__name__} was expected")
        if value != want and not (key == "lr" and may_change and value > 0):
            raise bad(f"optimizer {key} {value!r}, this run's is {want!r}" + (
                " (and no callback of the run changes it)" if key == "lr" else ""))
    if not _is_int(saved.get("t")) or saved["t"] < 0:
        raise bad(f"optimizer step count {saved.get('t')!r}")
    if saved.get("shapes") is not None and [tuple(s) for s in saved["shapes"]] != shapes:
        raise bad(f"optimizer state for shapes {saved['shapes']}, the network's are {[list(s) for s in shapes]}")
    arrays = saved.get("state")
    if arrays is not None:
        if saved.get("shapes") is None or not isinstance(arrays, dict):
            raise bad("malformed optimizer state")
        for key, values in arrays.items():
            if key in (SCALE, GOOD):  # fp16's loss scale and good-step count: one 0-d array each
                if not (isinstance(values, list) and len(values) == 1 and isinstance(values[0], np.ndarray)
                        and values[0].shape == ()):
                    raise bad(f"malformed loss-scaler state {key!r}")
                continue
            if (not isinstance(values, list) or len(values) != len(shapes)
                    or any(not isinstance(a, np.ndarray) or a.shape != s for a, s in zip(values, shapes))):
                raise bad(f"optimizer state {key!r} does not match the parameters' shapes")
    if "pairs" in fresh:
        n = sum(math.prod(s) for s in shapes)
        pairs = saved.get("pairs")
        if (not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 3 and all(isinstance(a, np.ndarray) and a.shape == (n,) for a in p[:2])
                and isinstance(p[2], (int, float)) for p in pairs)
                or not _is_int(saved.get("n_iter")) or not isinstance(saved.get("converged"), bool)
                or not (saved.get("g") is None or (isinstance(saved["g"], np.ndarray) and saved["g"].shape == (n,)))):
            raise bad("malformed L-BFGS state")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(a):
    return f"an array of shape {a.shape} and dtype {a.dtype}" if isinstance(a, np.ndarray) else repr(a)[:40]


def first_difference(saved, current, name=""):
    """``(key, saved value, current value)`` of the first setting (in ``current``'s order, dotted into
    nested dicts) where ``saved`` and ``current`` differ; None when they are equal."""
    if isinstance(saved, dict) and isinstance(current, dict):
        for key in [*current, *(k for k in saved if k not in current)]:
            found = first_difference(saved.get(key), current.get(key), f"{name}.{key}" if name else key)
            if found is not None:
                return found
        return None
    return None if saved == current else (name, saved, current)


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def sampled_rows(m, width=1):
    """The indices of evenly spaced rows out of ``m`` (``m >= 1``), the first and the last among them: at
    most :data:`SAMPLE_ROWS`, and at most :data:`SAMPLE_VALUES` values of ``width`` per row (at least
    one row); all ``m`` rows, in order, when that many fit."""
    k = min(m, SAMPLE_ROWS, max(1, SAMPLE_VALUES // max(1, width)))
    return np.arange(k, dtype=np.int64) * (m - 1) // max(k - 1, 1)


def fingerprint(shapes, samples):
    """The SHA-256 (hex) of data arrays, for a checkpoint's identity: each array's whole shape and its
    dtype, then the bytes of the rows :func:`sampled_rows` picks (``samples``: host NumPy copies of those
    rows, one per array). Cheap for any size (at most :data:`SAMPLE_ROWS` rows, :data:`SAMPLE_VALUES`
    values, are read), and it changes when the shape, the dtype, the order of the rows or any sampled
    value changes."""
    meta = json.dumps([[[int(d) for d in shape], s.dtype.name] for shape, s in zip(shapes, samples)])
    return digest([np.frombuffer(meta.encode("utf-8"), dtype=np.uint8), *samples])


def check_identity(path, saved, current):
    """Refuse a checkpoint of another run, naming the first setting that differs (and how many do).

    A key of :data:`ADDED_KEYS` that the checkpoint lacks (an older bpx wrote it) is not compared: the
    resume goes on with a warning that it could not be checked."""
    names = {"engine": "engine (its batches and positions are its own)", "batch_size": "batch size",
             "rows": "training rows"}
    unknown = [k for k in ADDED_KEYS if k in current and k not in saved]
    differ = [k for k, v in current.items() if k not in unknown and saved.get(k) != v]
    if differ:
        key, was, now = first_difference({k: saved.get(k) for k in differ}, {k: current[k] for k in differ})
        top = key.split(".")[0]
        more = f" (and {len(differ) - 1} more setting(s))" if len(differ) > 1 else ""
        advice = "resume with the same network, optimizer, batch size and data, or use another checkpoint path"
        if top in ADDED_KEYS:
            what = {"data": "the training data (X, Y and sample_weight)",
                    "validation": "the validation data (validation_data, or the rows validation_split holds out)"}[top]
            raise CheckpointError(path, f"the checkpoint is of another run: {what} differ "
                                        f"({_fingerprint(was)} in the checkpoint, {_fingerprint(now)} in this fit){more}; "
                                        f"{advice}")
        raise CheckpointError(path, f"the checkpoint is of another run: {names.get(top, key) if key == top else key} "
                                    f"differs (checkpoint {_short(was)}, this fit {_short(now)}){more}; {advice}")
    if unknown:
        warnings.warn(f"{path}: the checkpoint holds no fingerprint of the "
                      f"{' or '.join({'data': 'training', 'validation': 'validation'}[k] for k in unknown)} data (an older "
                      f"bpx wrote it), so it cannot be checked that this fit trains on the same data; resuming "
                      f"anyway", stacklevel=5)  # the user's net.fit


def _fingerprint(value):
    """A fingerprint as a message shows it: its first 12 hex digits (``none``: no validation data)."""
    return f"fingerprint {value[:12]}" if isinstance(value, str) else "none" if value is None else _short(value)
