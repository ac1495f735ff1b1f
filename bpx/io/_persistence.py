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
import os
import zipfile

import numpy as np

from ..backends._backend import to_numpy
from ..nn._layers import param_layout
from ..utils._atomic import digest as _digest
from ..utils._atomic import write_atomically  # noqa: F401 (bpx.export writes through it too)

FORMAT = "bpx.mlp"
FORMAT_VERSION = 2  # 2: layers without biases (header "bias": false); every other file is written as 1
MAX_HEADER_BYTES = 1 << 20
CONVENTIONS = {
    "layout": "row-major batches: Z = A_prev @ W + b, W of shape (n_in, n_out), b of shape (n_out,)",
    "mse": "per-sample 0.5 * sum((a - y)**2); cost = mean over samples",
    "leaky_relu_slope": 0.01,
}


class ModelFileError(ValueError):
    """A model file that bpx cannot trust: missing, truncated, corrupted, foreign or too new.

    A subclass of ``ValueError``; its message names the file and what is wrong with it. Raised by
    :func:`bpx.load` before any network is built.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    reason : str
        What is wrong with it."""

    def __init__(self, path, reason):
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.path = os.fspath(path)
        self.reason = reason


def check_path(path, for_writing):
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if for_writing:
        if os.path.isdir(path):
            raise ValueError(f"path {path!r} is a directory; give a file name such as model.npz")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise ValueError(f"path {path!r}: the folder {folder!r} does not exist")
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
    if not callable(getattr(net, "get_config", None)) or not hasattr(net, "params"):
        raise TypeError(f"net must be a bpx.MLP, got {type(net).__name__}")
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
        # a bias-free file needs a reader that knows the "bias" field; anything else stays readable by
        # every bpx that reads format 1 (dropout only matters for training, older readers ignore it; so
        # does precision: the parameters are saved in the master dtype)
        "format_version": FORMAT_VERSION if not config["bias"] else 1,
        "bpx_version": _version(),
        **config,
        "arrays": names,
        "classes": None if net.classes is None else [str(c) for c in net.classes],
        "conventions": CONVENTIONS,
        "metadata": metadata,
        "sha256": _digest(arrays),
    }
    blob = np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    write_atomically(path, lambda f: np.savez(f, header=blob, **dict(zip(names, arrays))))
    return path


def read(path):
    """The checked ``(header, arrays)`` of a model file, arrays as host numpy arrays."""
    path = check_path(path, for_writing=False)
    if not os.path.isfile(path):
        raise ModelFileError(path, "no such file")
    if os.path.getsize(path) == 0:
        raise ModelFileError(path, "the file is empty")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(path, "not a bpx model file (not an .npz archive; truncated or foreign)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            members = set(npz.files)
            if "header" not in members:
                raise ModelFileError(path, "not a bpx model file (no header)")
            with zipfile.ZipFile(path) as archive:
                info = archive.getinfo("header.npy")
            if info.file_size > MAX_HEADER_BYTES:
                raise ModelFileError(path, f"header of {info.file_size} bytes exceeds the {MAX_HEADER_BYTES}-byte limit")
            header = _parse_header(path, npz["header"])
            names = [name for name, _ in param_layout(header["layer_sizes"], header["bias"])]
            if header.get("arrays") != names or not set(names) <= members:
                raise ModelFileError(path, f"the file's arrays {sorted(members - {'header'})} do not match the architecture")
            arrays = [npz[name] for name in names]
    except ModelFileError:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        reason = "it holds pickled objects, which bpx never loads" if "pickle" in str(exc) else f"unreadable ({exc})"
        raise ModelFileError(path, reason) from None
    _check_arrays(path, header, arrays)
    return header, arrays


def _parse_header(path, blob):
    if blob.dtype != np.uint8 or blob.ndim != 1:
        raise ModelFileError(path, "not a bpx model file (malformed header)")
    try:
        header = json.loads(blob.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(path, f"corrupted header ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise ModelFileError(path, f"not a bpx model file (format {found!r}, expected {FORMAT!r})")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(path, f"malformed format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            path, f"written in format version {version} by bpx {header.get('bpx_version')}; this bpx "
            f"({_version()}) reads format version {FORMAT_VERSION} at most: upgrade bpx"
        )
    sizes = header.get("layer_sizes")
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes)):
        raise ModelFileError(path, f"malformed layer_sizes {sizes!r}")
    for key in ("activation", "output", "loss", "dtype", "sha256"):
        if not isinstance(header.get(key), str):
            raise ModelFileError(path, f"malformed header: {key!r} missing or not a string")
    header.setdefault("bias", True)  # written before bias-free layers existed: every layer had a bias
    if not isinstance(header["bias"], bool):
        raise ModelFileError(path, f"malformed header: bias {header['bias']!r} is not true or false")
    return header


def _check_arrays(path, header, arrays):
    expected = [shape for _, shape in param_layout(header["layer_sizes"], header["bias"])]
    for name, a, shape in zip(header["arrays"], arrays, expected):
        if a.shape != shape:
            raise ModelFileError(path, f"array {name} has shape {a.shape}, the architecture needs {shape}")
        if a.dtype.kind != "f" or a.dtype.name != header["dtype"]:
            raise ModelFileError(path, f"array {name} has dtype {a.dtype}, the header says {header['dtype']}")
        if not np.all(np.isfinite(a)):
            raise ModelFileError(path, f"array {name} contains NaN or infinite weights")
    if _digest(arrays) != header["sha256"]:
        raise ModelFileError(path, "checksum mismatch: the weights were corrupted or altered")


def _version():
    from .._version import __version__

    return __version__
