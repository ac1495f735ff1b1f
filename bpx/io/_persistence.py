"""Saving and loading networks: arrays plus a JSON header in one ``.npz`` file, never pickle.

The file is an uncompressed NumPy ``.npz`` (a zip) holding ``W1, b1, W2, b2, ...`` (``W1, W2, ...`` for
a network without biases) and ``header``, a uint8 array of UTF-8 JSON: format name and version, bpx
version, architecture (with ``bias``, ``dropout`` and the mixed-precision setting ``precision``; files
written before these existed load as ``bias=True``, no dropout, full precision), dtype (of the master
parameters: a bf16 network saves float32), the conventions the numbers assume, and a SHA-256 of the parameter
bytes. Activations are saved by name: a user activation (:func:`bpx.activation`) must be registered
again before its model is loaded. It is written atomically and durably (a
temporary file in the same folder, fsync, ``os.replace``, a fsync of the folder), so a crash leaves
either the old file or the new one. Reading checks everything before a network is built (:func:`read`; :func:`bpx.load`, one layer
up in :mod:`bpx.models`, builds it) and raises :class:`ModelFileError` (a ``ValueError``) naming the path for
anything it cannot trust. This module knows the file format, not the model: :func:`save` takes a
network through its public protocol (``get_config()``, ``params``, ``param_names()``, ``classes``,
``metadata``), so bpx.io sits below bpx.models (docs/development/architecture.md).
"""

from __future__ import annotations

import json
import math
import os
import warnings

import numpy as np

from .._version import __version__
from ..backends._backend import to_numpy
from ..errors import ModelFileError
from ..nn._layers import param_layout
from ..utils._atomic import digest as _digest
from ..utils._atomic import write_atomically  # noqa: F401 (bpx.export writes through it too)
from ..utils._npz import read_npz
from ..utils._paths import as_path, check_output_file, regular_file_problem

FORMAT = "bpx.mlp"
# 1: the first; 2: layers without biases (header "bias": false); 3: the checksum covers the header, the
# member names, dtypes and shapes besides the weights (1 and 2 are still read, with their weaker check)
FORMAT_VERSION = 3
MAX_WIDTH = 1 << 31  # units in one layer: anything wider is a corrupted header, not a network
MAX_HEADER_BYTES = 1 << 20
CONVENTIONS = {
    "layout": "row-major batches: Z = A_prev @ W + b, W of shape (n_in, n_out), b of shape (n_out,)",
    "mse": "per-sample 0.5 * sum((a - y)**2); cost = mean over samples",
    "leaky_relu_slope": 0.01,
}


def check_model(net):
    """A TypeError unless ``net`` is a model: io sits below bpx.models, so it knows a model by its public
    protocol (``get_config()`` and ``params``, docs/development/architecture.md), never by its class."""
    if not callable(getattr(net, "get_config", None)) or not hasattr(net, "params"):
        raise TypeError(f"net must be a bpx.MLP, got {type(net).__name__}")


def check_path(path, for_writing):
    """A writable file path in an existing folder, or (reading) a regular file; ModelFileError otherwise."""
    if for_writing:
        return check_output_file(path, "path")
    path = as_path(path)
    problem = regular_file_problem(path)
    if problem is not None:
        raise ModelFileError(path, problem)
    return path


def save(net, path):
    """Write ``net`` to exactly ``path`` (atomically; an existing file is replaced only once the new
    one is complete and on disk). Returns the path.

    The file is an uncompressed ``.npz``: the parameters plus a JSON header (format name and version,
    bpx version, architecture, dtype, class names, ``net.metadata``) and a SHA-256 of the weights;
    never a pickle.

    Parameters
    ----------
    net : bpx.MLP
        The network to save, on any backend.
    path : str or os.PathLike
        The file to write, exactly as given (no suffix is added); its folder must exist.

    Returns
    -------
    str or os.PathLike
        ``path``.

    Raises
    ------
    TypeError
        If ``net`` is not a :class:`bpx.MLP`, ``path`` is not a path, or ``net.metadata`` is not a
        dict of JSON-serializable, finite values.
    ValueError
        If ``path`` is a directory or its folder does not exist."""
    check_model(net)
    path = check_path(path, for_writing=True)
    if not isinstance(net.metadata, dict):
        raise TypeError(f"net.metadata must be a dict, got {type(net.metadata).__name__}")
    try:
        metadata = json.loads(json.dumps(net.metadata, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"net.metadata must hold JSON-serializable, finite values only ({exc})") from None
    arrays = [to_numpy(p) for p in net.params]
    names = net.param_names()
    config = net.get_config()  # the architecture (with dropout and precision, the mixed-precision setting)
    header = {
        "format": FORMAT,
        # precision (the mixed-precision setting) is informative: the parameters are in the master dtype
        "format_version": FORMAT_VERSION,
        "bpx_version": __version__,
        **config,
        "arrays": names,
        "classes": None if net.classes is None else [str(c) for c in net.classes],
        "conventions": CONVENTIONS,
        "metadata": metadata,
        "sha256": "",
        }
    header["sha256"] = checksum(header, arrays)
    blob = np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    write_atomically(path, lambda f: np.savez(f, header=blob, **dict(zip(names, arrays))))
    return path


def read(path):
    """The checked ``(header, arrays)`` of a model file, arrays as host numpy arrays.

    Nothing is read before it is bounded: the header member by :data:`MAX_HEADER_BYTES`, each weight
    member by the bytes its shape in the header's architecture needs (:func:`bpx.utils.read_npz` refuses
    compressed, duplicate, oddly named or non-numeric members); the checksum of format version 3 covers
    the header (all but the checksum), the member names, dtypes and shapes, and the weights."""
    path = check_path(path, for_writing=False)
    if os.path.getsize(path) == 0:
        raise ModelFileError(path, "the file is empty")

    def error(reason):
        return ModelFileError(path, reason)

    def header_limit(name):
        return MAX_HEADER_BYTES if name == "header" else 0

    first = read_npz(path, error, limit=header_limit, names={"header"}, kind="model file")
    if "header" not in first:
        raise ModelFileError(path, "not a bpx model file (no header)")
    header = _parse_header(path, first["header"])
    layout = param_layout(header["layer_sizes"], header["bias"])
    names = [name for name, _ in layout]
    if header.get("arrays") != names:
        raise ModelFileError(path, f"the header's arrays {header.get('arrays')!r} do not match the architecture "
                                   f"({names})")
    itemsize = np.dtype(header["dtype"]).itemsize if header["dtype"] in ("float16", "float32", "float64") else 8
    sizes = {name: math.prod(shape) * itemsize for name, shape in layout}
    members = read_npz(path, error, limit=lambda name: sizes.get(name, MAX_HEADER_BYTES), kind="model file")
    extra = sorted(set(members) - set(names) - {"header"})
    missing = [name for name in names if name not in members]
    if extra or missing:
        raise ModelFileError(path, f"the file's arrays do not match the architecture (missing {missing}, "
                                   f"unexpected {extra})")
    arrays = [members[name] for name in names]
    _check_arrays(path, header, arrays)
    return header, arrays


def _finite_json(value):
    raise ValueError(f"{value} is not a number JSON allows")


def _parse_header(path, blob):
    if blob.dtype != np.uint8 or blob.ndim != 1:
        raise ModelFileError(path, "not a bpx model file (malformed header)")
    try:
        header = json.loads(blob.tobytes().decode("utf-8"), parse_constant=_finite_json)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise ModelFileError(path, f"corrupted header ({reason})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise ModelFileError(path, f"not a bpx model file (format {found!r}, expected {FORMAT!r})")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(path, f"malformed format_version {version!r} (versions start at 1)")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            path, f"written in format version {version} by bpx {header.get('bpx_version')}; this bpx "
            f"({__version__}) reads format version {FORMAT_VERSION} at most: upgrade bpx"
        )
    sizes = header.get("layer_sizes")
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 < s <= MAX_WIDTH for s in sizes)):
        raise ModelFileError(path, f"malformed layer_sizes {sizes!r}")
    for key in ("activation", "output", "loss", "dtype", "sha256"):
        if not isinstance(header.get(key), str):
            raise ModelFileError(path, f"malformed header: {key!r} missing or not a string")
    header.setdefault("bias", True)  # written before bias-free layers existed: every layer had a bias
    if not isinstance(header["bias"], bool):
        raise ModelFileError(path, f"malformed header: bias {header['bias']!r} is not true or false")
    classes = header.get("classes")
    if classes is not None:
        if not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
            raise ModelFileError(path, f"malformed class names {_short(classes)}")
        n_out = sizes[-1]
        if len(classes) != (2 if n_out == 1 else n_out) or len(set(classes)) != len(classes):
            raise ModelFileError(path, f"{len(classes)} class names ({_short(classes)}) for {n_out} output unit(s); "
                                       f"expected {2 if n_out == 1 else n_out} distinct names")
    metadata = header.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ModelFileError(path, f"malformed metadata {_short(metadata)}")
    _check_scaling(path, metadata, sizes[0])
    return header


def _short(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_scaling(path, metadata, n_features):
    """A stored scaling's per-feature lists must have one entry per input feature, all finite numbers."""
    preprocessing = metadata.get("preprocessing")
    scaling = preprocessing.get("scaling") if isinstance(preprocessing, dict) else None
    if not isinstance(scaling, dict):
        return
    columns = preprocessing.get("columns")
    n_scaled = n_named = n_features
    if isinstance(columns, list):  # a table's preprocessing (bpx.data.TablePreprocessor): the scaling covers
        n_named = len(columns)     # its numeric columns; text columns are one-hot encoded into several inputs
        n_scaled = sum(1 for c in columns if isinstance(c, dict) and c.get("type") == "number")
    for key, value in scaling.items():
        if isinstance(value, list):
            if len(value) != n_scaled or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                  for v in value):
                raise ModelFileError(path, f"the stored scaling's {key!r} has {len(value)} entries for "
                                           f"{n_scaled} {'numeric columns' if columns else 'input features'}")
    names = preprocessing.get("feature_names")
    if isinstance(names, list) and len(names) != n_named:
        raise ModelFileError(path, f"{len(names)} stored feature names for {n_named} "
                                   f"{'table columns' if columns else 'input features'}")


def _check_arrays(path, header, arrays):
    expected = [shape for _, shape in param_layout(header["layer_sizes"], header["bias"])]
    for name, a, shape in zip(header["arrays"], arrays, expected):
        if a.shape != shape:
            raise ModelFileError(path, f"array {name} has shape {a.shape}, the architecture needs {shape}")
        if a.dtype.kind != "f" or a.dtype.name != header["dtype"]:
            raise ModelFileError(path, f"array {name} has dtype {a.dtype}, the header says {header['dtype']}")
        if not np.all(np.isfinite(a)):
            raise ModelFileError(path, f"array {name} contains NaN or infinite weights")
    if header["format_version"] >= 3:
        if checksum(header, arrays) != header["sha256"]:
            raise ModelFileError(path, "checksum mismatch: the header or the weights were corrupted or altered")
    elif _digest(arrays) != header["sha256"]:
        raise ModelFileError(path, "checksum mismatch: the weights were corrupted or altered")
    else:
        warnings.warn(f"{path}: format version {header['format_version']} (bpx before 0.2 wrote it): its checksum "
                      f"covers the weights only, not the header; save it again for the full check", stacklevel=3)


def checksum(header, arrays):
    """Format 3's SHA-256: the header without its ``sha256`` (canonical JSON), then each array's name,
    dtype and shape, then the weights' bytes."""
    rest = json.dumps({k: v for k, v in header.items() if k != "sha256"}, sort_keys=True, allow_nan=False)
    described = json.dumps([[name, str(a.dtype), list(a.shape)] for name, a in zip(header["arrays"], arrays)])
    return _digest([np.frombuffer(rest.encode("utf-8"), np.uint8), np.frombuffer(described.encode("utf-8"), np.uint8),
                    *arrays])
