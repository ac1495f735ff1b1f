"""Big data opened lazily as dask arrays, for training on Dask (``bpx.datasets.open_dask``).

Host-side data code (it may import numpy, dask, zarr and h5py). Nothing is read when a data set is
opened except its metadata (and, for CSV, one pass counting the lines of each block); every chunk is
read by the task that needs it, from the path alone, so the same graph runs on the workers of a
cluster that sees the files (a shared file system or object store). Local paths are made absolute
before the graph is built: workers seldom share the client's working directory.

=================================  ==============================================================
a zarr store (a directory/.zarr)    arrays ``X`` and ``y`` of a group (also ``x``/``Y``/``labels``/
                                    ``target``; any case; ``x_key``/``y_key`` to choose), or one
                                    array (X only)
``.h5`` / ``.hdf5``                 datasets ``X``/``y`` (same names, or ``x_key``/``y_key``), read
                                    by row range (images are flattened to (m, h·w·c))
a directory or glob of ``.npy``     memory-mapped, in file-name order: X only, or ``X_<name>.npy``
                                    with labels ``y_<name>.npy`` (matched by the part after ``_``;
                                    also ``labels_``/``label_``/``target_``; any case), or labels from
                                    ``labels=`` (a directory or glob of .npy shards, in the same order)
a directory or glob of ``.npz``     ``X`` and ``y`` of every shard (one chunk per shard, or
                                    ``chunks`` rows)
``.parquet`` (``.pq``)              ``dask.dataframe.read_parquet``: row chunks by row group (or
                                    ``chunks`` rows); numeric columns, the label column as for CSV
``.csv`` (``.tsv``, ``.txt``)       split into ~``chunks``-sized byte blocks at line ends
                                    (``dask.bytes.read_bytes``), each parsed by NumPy; a header row;
                                    the label column as for :func:`bpx.datasets.load` (numeric
                                    labels only: class names need the host loader)
=================================  ==============================================================

X comes chunked by rows with every column in one chunk (``chunks`` rows per chunk, default about
:data:`bpx.distributed.CHUNK_BYTES`), y with the same row chunks. Values are checked (finite, labels
in range) chunk by chunk when training starts, not here.
"""

from __future__ import annotations

import glob
import io
import math
import os

import numpy as np

from ..utils._extras import install_hint
from ..utils._validation import check_int
from ._hdf5 import dataset_names, open_h5, stored_dataset
from ._layout import Dataset, default_key, label_index

X_NAMES = ("x",)
Y_NAMES = ("y", "labels", "label", "target")


def _rows(shape, itemsize, chunks, split=True):
    """``chunks``, else :func:`bpx.distributed.default_rows` (``split=False``: shards already divide the
    data, so only the ~64 MiB bound applies)."""
    from ._dask_arrays import CHUNK_BYTES, default_rows  # optional dependency: _dask_arrays imports dask

    if chunks is not None:
        return chunks
    return default_rows(shape, itemsize) if split else max(1, CHUNK_BYTES // max(1, itemsize * math.prod(shape[1:])))


def _from_reader(read, shape, dtype, rows, starts=None):
    """A dask array of ``shape`` whose row blocks are ``read(a, b)`` (rows a..b-1)."""
    import dask
    import dask.array as da

    m = shape[0]
    bounds = starts if starts is not None else list(range(0, m, rows)) + [m]
    blocks = [da.from_delayed(dask.delayed(read, pure=True)(a, b), shape=(b - a,) + tuple(shape[1:]), dtype=dtype)
              for a, b in zip(bounds[:-1], bounds[1:])]
    return blocks[0] if len(blocks) == 1 else da.concatenate(blocks, axis=0)


def _flat(a):
    return a.reshape(a.shape[0], -1) if a.ndim > 2 else a


def absolute(path):
    """A local path made absolute (the workers' working directory is seldom the client's); a URL
    (``scheme://...``) as it is."""
    return path if "://" in path else os.path.abspath(path)


def open_dask(path, x_key=None, y_key=None, label_column=None, chunks=None, labels=None, n_features=None,
              default_label_column=None):
    """``path`` as a :class:`bpx.datasets.Dataset` whose ``X`` and ``y`` are lazy dask arrays. For a model's
    data (``bpx predict``/``evaluate``): a CSV file's label column defaults to ``default_label_column``,
    and a CSV of ``n_features`` columns holds features only."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if labels is not None and (isinstance(labels, bytes) or not isinstance(labels, (str, os.PathLike))):
        raise TypeError(f"labels must be a str or os.PathLike (a directory or glob of .npy label shards), got "
                        f"{type(labels).__name__}")
    if chunks is not None:
        chunks = check_int(chunks, "chunks")
    path = os.fspath(path)
    shown, path = path, absolute(path)
    ds = _open(path, x_key, y_key, label_column, chunks, labels, n_features, default_label_column)
    ds.path = shown  # the path as given, in messages and records; the graph reads the absolute one
    return ds


def _open(path, x_key, y_key, label_column, chunks, labels, n_features=None, default_label_column=None):
    ext = os.path.splitext(path.rstrip("/"))[1].lower()
    files = _shards(path)
    if labels is not None and not (files and {os.path.splitext(f)[1].lower() for f in files} == {".npy"}):
        raise ValueError(f"labels={os.fspath(labels)!r}: label shards go with a directory or glob of .npy shards; "
                         f"{path} holds its labels itself (x_key/y_key, label_column)")
    if ext == ".zarr" or os.path.exists(os.path.join(path, ".zgroup")) or os.path.exists(
            os.path.join(path, ".zarray")) or os.path.exists(os.path.join(path, "zarr.json")):
        return _open_zarr(path, x_key, y_key, chunks)
    if ext in (".h5", ".hdf5"):
        return _open_h5(path, x_key, y_key, chunks)
    if ext in (".csv", ".tsv", ".txt"):
        return _open_csv(path, label_column, chunks, "\t" if ext == ".tsv" else None, n_features, default_label_column)
    if ext in (".parquet", ".pq"):
        return _open_parquet(path, label_column, chunks, n_features, default_label_column)
    if files:
        kinds = {os.path.splitext(f)[1].lower() for f in files}
        if kinds == {".npy"}:
            return _open_npy(path, files, chunks, labels)
        if kinds == {".npz"}:
            return _open_npz(path, files, x_key, y_key, chunks)
        raise ValueError(f"{path}: mixes .npy and .npz shards; use one kind")
    if not os.path.exists(path):
        raise ValueError(f"{path}: no such file, directory or matching shards")
    raise ValueError(f"{path}: not a data set dask can open lazily; known: a zarr store, .h5/.hdf5, .csv/.tsv/.txt, .parquet, "
                     f"a directory or glob of .npy or .npz shards")


def _shards(path):
    """The .npy/.npz files of a directory or glob, sorted by name (absolute paths)."""
    found = glob.glob(os.path.join(path, "*")) if os.path.isdir(path) else glob.glob(path)
    return sorted(absolute(f) for f in found if os.path.splitext(f)[1].lower() in (".npy", ".npz"))


# -- zarr ------------------------------------------------------------------------------------------------
def _open_zarr(path, x_key, y_key, chunks):
    import dask.array as da
    import zarr

    try:
        node = zarr.open(path, mode="r")
    except Exception as exc:
        raise ValueError(f"{path}: not a readable zarr store ({type(exc).__name__}: {exc})") from None
    if isinstance(node, zarr.Array):
        X, yk, xk = node, None, None
    else:
        names = [k for k, _ in node.arrays()]
        xk = _key(path, names, x_key, X_NAMES, "array")
        yk = _key(path, names, y_key, Y_NAMES, "array", required=False)
        X = node[xk]
    rows = _rows(X.shape, X.dtype.itemsize, chunks)
    Xd = _flat(da.from_zarr(path, component=xk))
    Xd = Xd.rechunk({0: rows, 1: -1})
    yd = None
    if yk is not None:
        yd = da.from_zarr(path, component=yk)
        yd = yd.rechunk({0: Xd.chunks[0], **({1: -1} if yd.ndim == 2 else {})})
    return _dataset(path, Xd, yd, yk)


def _key(path, names, wanted, defaults, what, required=True):
    if wanted is not None:
        if wanted not in names:
            raise ValueError(f"{path}: no {what} named {wanted!r}; it holds {', '.join(sorted(names)) or 'nothing'}")
        return wanted
    key = default_key(names, defaults)
    if key is None and required:
        raise ValueError(f"{path}: no {what} 'X' (or 'x'); it holds {', '.join(sorted(names)) or 'nothing'}")
    return key


def _dataset(path, X, y, label_column=None):
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{path}: X must be 2-D (samples, features) with some of each, got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{path}: X must hold numbers, got dtype {X.dtype}")
    if y is not None:
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"{path}: X has {X.shape[0]} samples but y has {y.shape[0]}")
        if y.ndim == 2 and y.shape[1] == 1 and y.dtype.kind != "f":
            y = y[:, 0]
    return Dataset(X, y, None, path, label_column=label_column)


# -- HDF5 ------------------------------------------------------------------------------------------------
def _read_h5(path, key, a, b):
    """Rows ``a:b`` of dataset ``key``, in the task that needs them: checked again as when the file was
    opened (:func:`bpx.data._hdf5.stored_dataset`), so a file changed since is refused too."""
    with open_h5(path) as f:
        return _flat(stored_dataset(path, f, key)[a:b])


def _open_h5(path, x_key, y_key, chunks):
    """Opened and checked as the host loader does (:mod:`bpx.data._hdf5`: data stored in the file only,
    no links followed); only the metadata is read here."""
    import functools

    with open_h5(path) as f:
        names = dataset_names(f)
        xk = _key(path, names, x_key, X_NAMES, "dataset")
        yk = _key(path, names, y_key, Y_NAMES, "dataset", required=False)
        x_ds, y_ds = stored_dataset(path, f, xk), stored_dataset(path, f, yk) if yk else None
        xs, xdt = x_ds.shape, x_ds.dtype
        ys, ydt = (y_ds.shape, y_ds.dtype) if yk else (None, None)
    shape = (xs[0], math.prod(xs[1:])) if len(xs) > 2 else xs
    rows = _rows(shape, xdt.itemsize, chunks)
    X = _from_reader(functools.partial(_read_h5, path, xk), shape, xdt, rows)
    y = _from_reader(functools.partial(_read_h5, path, yk), ys, ydt, rows) if yk else None
    return _dataset(path, X, y, yk)


# -- .npy / .npz shards ------------------------------------------------------------------------------------
def _read_npy(path, a, b):
    return _flat(np.array(np.load(path, mmap_mode="r", allow_pickle=False)[a:b]))


def _npy_header(f):
    try:
        a = np.load(f, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{f}: not a readable .npy array ({exc})") from None
    return a.shape, a.dtype


def _prefix(f):
    """``("x" | "y", name)`` for ``X_name.npy`` / ``y_name.npy`` (also labels_/label_/target_; any case),
    else None."""
    stem = os.path.splitext(os.path.basename(f))[0]
    head, sep, name = stem.partition("_")
    if not sep:
        return None
    head = head.lower()
    return ("x", name) if head in X_NAMES else ("y", name) if head in Y_NAMES else None


def _npy_pairs(where, files, labels):
    """``[(X file, y file or None)]``: the naming rule (``X_<name>.npy`` with ``y_<name>.npy``, in the same
    folder, matched by name), or ``labels`` (a directory or glob of .npy label shards, paired in order)."""
    if labels is not None:
        ys = [f for f in _shards(absolute(os.fspath(labels))) if f.lower().endswith(".npy")]
        xs = [f for f in files if f not in ys]
        if not ys:
            raise ValueError(f"labels={os.fspath(labels)!r}: no .npy label shards there")
        if len(ys) != len(xs):
            raise ValueError(f"labels={os.fspath(labels)!r}: {len(ys)} label shard(s) for {len(xs)} X shard(s) in "
                             f"{where}; give one label shard per X shard (paired in file-name order)")
        return list(zip(xs, ys))
    kinds = {f: _prefix(f) for f in files}
    ys = {(os.path.dirname(f), k[1]): f for f, k in kinds.items() if k and k[0] == "y"}
    xs = [f for f in files if not (kinds[f] and kinds[f][0] == "y")]
    if not ys:  # a glob that names X shards only: their y_<name>.npy siblings, if any
        for f in xs:
            if kinds[f] and kinds[f][0] == "x":
                for name in Y_NAMES:
                    for head in (name, name.upper(), name.capitalize()):
                        sibling = os.path.join(os.path.dirname(f), f"{head}_{kinds[f][1]}.npy")
                        if os.path.isfile(sibling):
                            ys[(os.path.dirname(f), kinds[f][1])] = sibling
    if not ys:
        return [(f, None) for f in xs]
    if not xs:
        raise ValueError(f"{where}: only label shards (y_*.npy); the X shards are named X_<name>.npy")
    pairs = []
    for f in xs:
        key = (os.path.dirname(f), kinds[f][1]) if kinds[f] else None
        if key not in ys:
            raise ValueError(f"{f}: no label shard for it; with labels in y_<name>.npy shards every X shard is "
                             f"named X_<name>.npy and has its y_<name>.npy (or give labels= a glob of label shards)")
        pairs.append((f, ys.pop(key)))
    if ys:
        raise ValueError(f"{next(iter(ys.values()))}: a label shard without its X shard (X_<name>.npy)")
    return pairs


def _open_npy(where, files, chunks, labels=None):
    import functools

    import dask.array as da

    xs, ys = [], []
    for f, fy in _npy_pairs(where, files, labels):
        shape_x, dtype_x = _npy_header(f)
        shape = (shape_x[0], math.prod(shape_x[1:])) if len(shape_x) > 2 else shape_x
        if len(shape) != 2:
            raise ValueError(f"{f}: X must be 2-D (samples, features), got shape {shape_x}")
        rows = _rows(shape, dtype_x.itemsize, chunks, split=False)
        xs.append(_from_reader(functools.partial(_read_npy, f), shape, dtype_x, rows))
        if fy is not None:
            shape_y, dtype_y = _npy_header(fy)
            if len(shape_y) not in (1, 2) or shape_y[0] != shape[0]:
                raise ValueError(f"{fy}: labels must be ({shape[0]},) or ({shape[0]}, k) for the {shape[0]} samples "
                                 f"of {os.path.basename(f)}, got shape {shape_y}")
            ys.append(_from_reader(functools.partial(_read_npy, fy), shape_y, dtype_y, rows))
    widths = {p.shape[1] for p in xs}
    if len(widths) > 1:
        raise ValueError(f"{where}: the shards have different numbers of features: {sorted(widths)}")
    if ys and len({p.ndim for p in ys}) > 1:
        raise ValueError(f"{where}: the label shards mix 1-D and 2-D shapes")
    X = xs[0] if len(xs) == 1 else da.concatenate(xs, axis=0)
    y = None if not ys else (ys[0] if len(ys) == 1 else da.concatenate(ys, axis=0))
    return _dataset(where, X, y)


def _read_npz(path, key, a, b):
    with np.load(path, allow_pickle=False) as f:
        return _flat(f[key])


def _open_npz(where, files, x_key, y_key, chunks=None):
    import functools

    import dask.array as da

    xs, ys, yk = [], [], None
    for f in files:
        try:
            with np.load(f, allow_pickle=False) as z:
                names = list(z.files)
                xk = _key(f, names, x_key, X_NAMES, "array")
                yk_here = _key(f, names, y_key, Y_NAMES, "array", required=False)
                # shapes from the members' headers, without reading the arrays
                shape_x, dtype_x = _npz_header(z, xk)
                shape_y, dtype_y = _npz_header(z, yk_here) if yk_here else (None, None)
        except (ValueError, OSError) as exc:
            if str(exc).startswith(f):
                raise
            raise ValueError(f"{f}: not a readable .npz archive ({exc})") from None
        if (yk_here is None) != (yk is None) and xs:
            raise ValueError(f"{f}: some shards hold labels and others do not")
        yk = yk_here
        shape_x = (shape_x[0], math.prod(shape_x[1:])) if len(shape_x) > 2 else shape_x
        m = shape_x[0]
        xs.append(_from_reader(functools.partial(_read_npz, f, xk), shape_x, dtype_x, m))
        if yk:
            if shape_y[0] != m:
                raise ValueError(f"{f}: X has {m} samples but {yk} has {shape_y[0]}")
            ys.append(_from_reader(functools.partial(_read_npz, f, yk), shape_y, dtype_y, m))
    X = xs[0] if len(xs) == 1 else da.concatenate(xs, axis=0)
    y = None if not ys else (ys[0] if len(ys) == 1 else da.concatenate(ys, axis=0))
    if chunks is not None:  # a member is read whole; its rows are then split into chunks of `chunks` rows
        X = X.rechunk({0: chunks})
        y = None if y is None else y.rechunk({0: chunks})
    return _dataset(where, X, y, yk)


def _npz_header(z, key):
    """(shape, dtype) of member ``key`` of an open NpzFile, read from its .npy header only."""
    from numpy.lib import format as npformat

    with z.zip.open(key + ".npy") as member:
        major, _ = npformat.read_magic(member)
        read = npformat.read_array_header_1_0 if major == 1 else npformat.read_array_header_2_0
        shape, _, dtype = read(member)
    return shape, dtype


# -- CSV -------------------------------------------------------------------------------------------------------
def _parse_block(block, delimiter, skip_header, n_columns):
    text = block.decode("utf-8-sig")
    if skip_header:
        text = text.split("\n", 1)[1] if "\n" in text else ""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return np.zeros((0, n_columns))
    try:
        table = np.loadtxt(io.StringIO("\n".join(lines)), delimiter=delimiter, ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"CSV block: not all numbers ({exc}); open_dask reads a CSV file as a numeric array "
                         f"(text columns and class names: `bpx train --backend dask` opens it as a table, or the "
                         f"host loader bpx.datasets.load)") from None
    if table.shape[1] != n_columns:
        raise ValueError(f"CSV block: {table.shape[1]} columns, the header has {n_columns}")
    return table


def _count_rows(block, skip_header):
    text = block.decode("utf-8-sig")
    lines = [line for line in text.splitlines() if line.strip()]
    return len(lines) - (1 if skip_header and lines else 0)


def csv_header(path, delimiter=None):
    """``(delimiter, header, sample line)`` of a CSV file: the delimiter (given, else the most frequent of
    ``,`` ``;`` tab in the first line), the column names (trimmed) and the first data line (its length
    sizes blocks of ``chunks`` rows)."""
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file")
    with open(path, encoding="utf-8-sig") as f:
        first, second = f.readline(), f.readline()
    if not first.strip():
        raise ValueError(f"{path}: the file is empty (or its first line is)")
    if delimiter is None:
        delimiter = max((",", ";", "\t"), key=first.count) if any(d in first for d in ",;\t") else ","
    return delimiter, [h.strip() for h in first.rstrip("\r\n").split(delimiter)], second or first


def csv_blocksize(chunks, sample):
    """The bytes per CSV block: about ``chunks`` rows of lines like ``sample``, else about
    :data:`bpx.distributed.CHUNK_BYTES`."""
    from ._dask_arrays import CHUNK_BYTES  # optional dependency: _dask_arrays imports dask

    return CHUNK_BYTES if chunks is None else max(1024, chunks * len(sample.encode()))


def _open_csv(path, label_column, chunks, delimiter, n_features=None, default_label_column=None):
    import dask
    import dask.array as da
    from dask.bytes import read_bytes

    delimiter, header, sample = csv_header(path, delimiter)
    label = label_index(path, header, label_column, n_features, default_label_column)  # None: features only
    blocksize = csv_blocksize(chunks, sample)
    _, blocks = read_bytes(path, delimiter=b"\n", blocksize=blocksize, sample=False)
    blocks = blocks[0]
    counts = dask.compute(*[dask.delayed(_count_rows)(b, i == 0) for i, b in enumerate(blocks)])
    if not sum(counts):
        raise ValueError(f"{path}: no rows (only a header)")
    feats = [j for j in range(len(header)) if j != label]
    xs, ys = [], []
    for i, (b, n) in enumerate(zip(blocks, counts)):
        if not n:
            continue
        table = dask.delayed(_parse_block)(b, delimiter, i == 0, len(header))
        xs.append(da.from_delayed(table[:, feats], shape=(n, len(feats)), dtype=np.float64))
        if label is not None:
            ys.append(da.from_delayed(table[:, label], shape=(n,), dtype=np.float64))
    X = xs[0] if len(xs) == 1 else da.concatenate(xs, axis=0)
    y = None if not ys else ys[0] if len(ys) == 1 else da.concatenate(ys, axis=0)
    ds = _dataset(path, X, y, None if label is None else header[label])
    ds.feature_names = [header[j] for j in feats]
    return ds


# -- Parquet ---------------------------------------------------------------------------------------------
def _open_parquet(path, label_column, chunks, n_features=None, default_label_column=None):
    """A Parquet file opened lazily with ``dask.dataframe.read_parquet`` (only its schema is read here):
    numeric feature columns as X, the label column as y, row chunks as dask sizes them (``chunks``:
    rows per chunk). Text feature columns: `bpx train --backend dask` opens the file as a table (:mod:`bpx.data._dask_table`)."""
    try:
        import dask.dataframe as dd
    except ImportError:
        raise ImportError(f"{path}: opening Parquet lazily needs dask.dataframe: {install_hint('dask')}") from None
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file")
    try:
        frame = dd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from None
    header = [str(c) for c in frame.columns]
    label = label_index(path, header, label_column, n_features, default_label_column)  # None: features only
    feats = [header[j] for j in range(len(header)) if j != label]
    text = [n for n in feats if frame[n].dtype.kind not in "biuf"]
    if text:
        raise ValueError(f"{path}: column {text[0]!r} holds text; open_dask reads numeric columns as an array "
                         f"(`bpx train --backend dask` opens the file as a table and one-hot encodes it)")
    if chunks is not None:
        frame = frame.repartition(npartitions=max(1, -(-len(frame) // chunks)))
    X = frame[feats].astype("float64").to_dask_array(lengths=True)
    y = None if label is None else frame[header[label]].to_dask_array(lengths=True)
    ds = _dataset(path, X.rechunk({1: -1}), y, None if label is None else header[label])
    ds.feature_names = feats
    return ds
