"""Data loaders (host side, NumPy): the bundled digits and files in common formats.

:func:`load` reads a file into a :class:`Dataset` (X as a float64 (m, n) host array, y as labels or
targets) and dispatches on the extension:

=============================  ===================================================================
``.npz``                       arrays ``X`` and ``y`` (also ``x``/``Y``; any case); one-hot label
                               columns (and those of ``.h5``) are read as class indices
``.npy``                       X only (data to predict on)
``.csv`` (``.txt``, ``.tsv``)  a header row, one sample per row; the label column is ``label_column``,
                               else one named label/y/target/class, else the last column.
                               Non-numeric labels become class names. Parsed by ``pyarrow.csv``
                               (:mod:`bpx.data._arrow_files`) where pyarrow is installed; on a
                               parse failure, and without pyarrow, by the careful reader, which
                               names the row and column of the problem.
``.parquet`` (``.pq``)         the same columns as a CSV file, read with ``pyarrow.parquet``.
``.h5``/``.hdf5``              the cat classifier's HDF5 layout (``train_set_x``/``train_set_y``/``list_classes``, or
                               ``test_set_*``; images are flattened to (m, 64·64·3)) or any named
                               datasets (``x_key``/``y_key``). Needs h5py (``pip install 'bpx-backprop[data]'``).
MNIST IDX (``.gz`` or raw)     detected by the magic number; the labels file is ``labels`` or the
                               sibling whose name has ``labels-idx1`` for ``images-idx3``
=============================  ===================================================================

Every refusal is a ``ValueError`` naming the file (and for CSV the row, 1-based as a text editor
counts lines with the header as row 1, and the column's name and 1-based number): an empty file, no
rows, a non-finite value, X/y length mismatch, an unknown extension, missing keys.

The bundled digits (``bpx/data/digits.npz``) are scikit-learn's copy of the UCI 8×8 handwritten digits
(1,797 images, 64 pixels of 0..16, labels 0..9), converted once with::

    d = sklearn.datasets.load_digits()
    np.savez_compressed("bpx/data/digits.npz", X=d.data.astype(np.uint8), y=d.target.astype(np.int64))
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import os
import zipfile
import zlib

import numpy as np

from ..utils._extras import install_hint
from ..utils._npz import MAX_NPY_HEADER, memory_budget, npy_header
from ..utils._paths import regular_file_problem
from ._arrow_files import NULL_VALUES, column_values, is_numeric, numeric_matrix, read_csv, read_parquet
from ._arrow_files import available as arrow_available
from ._dask_data import open_dask as open_dask_data
from ._hdf5 import dataset_names, open_h5, stored_dataset
from ._layout import LABEL_NAMES, Dataset  # noqa: F401  (bpx.datasets.Dataset is public)
from ._layout import default_key as _default_key
from ._layout import label_index as _label_index
from ._table import Table, from_arrow, missing_rows

EXTENSIONS = (".npz", ".npy", ".csv", ".tsv", ".txt", ".parquet", ".pq", ".h5", ".hdf5",
              "IDX (.gz or raw, by magic number)")
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_digits():
    """The bundled 8×8 digits: X (1797, 64) float64 pixels 0..16, y (1797,) int64 labels 0..9.

    Returns
    -------
    Dataset
        ``X`` (1797, 64) float64, ``y`` (1797,) int64, ``feature_names`` and ``label_column``
        ``"digit"``; a fresh copy on every call."""
    path = os.path.join(os.path.dirname(__file__), "digits.npz")
    with np.load(path, allow_pickle=False) as f:
        X, y = f["X"].astype(np.float64), f["y"].astype(np.int64)
    return Dataset(X, y, None, path, label_column="digit")


def load(path, label_column=None, x_key=None, y_key=None, labels=None, require_labels=False, n_features=None,
         default_label_column=None, tabular=False):
    """Read the data file ``path`` into a :class:`Dataset` (see the module docstring).

    ``label_column``: the CSV label column (name or 1-based number). ``x_key``/``y_key``: the arrays or
    datasets to read from .npz/.h5. ``labels``: the IDX labels file. ``require_labels``: refuse a file
    without labels. ``n_features``: for CSV without a named label column, a file with exactly this
    many columns is read as unlabeled features (data to predict on). ``default_label_column``: a CSV
    column name taken as the label column when the file has it (a model's stored label column).

    Parameters
    ----------
    path : str or os.PathLike
        An ``.npz``, ``.npy``, ``.csv``/``.tsv``/``.txt``, ``.h5``/``.hdf5`` or MNIST IDX file.
    label_column : str or int, optional
        The CSV label column, by name or 1-based number.
    x_key, y_key : str, optional
        The arrays (.npz) or datasets (.h5) holding X and y.
    labels : str or os.PathLike, optional
        The labels file of an IDX images file.
    require_labels : bool, default False
        Refuse a file without labels.
    n_features : int, optional
        A CSV without a named label column and with exactly this many columns is read as features only.
    default_label_column : str, optional
        A CSV column taken as the label column when present.
    tabular : bool, default False
        CSV and Parquet: keep text feature columns and missing cells, in ``Dataset.table`` (a
        :class:`bpx.data.Table` for :class:`bpx.data.TablePreprocessor`); ``X`` is then the numeric
        matrix only when every feature column is numbers without a gap, else None. Without it such a
        file is refused, naming the row and column.

    Returns
    -------
    Dataset
        ``X`` as a float64 (m, n) host array, ``y`` (or None), the class names where the file has them.

    Raises
    ------
    TypeError
        If ``path`` is not a path.
    ValueError
        Naming the file (for CSV also the row and column): no such file, an empty file, no rows, a
        value that is not a finite number, X/y length mismatch, an unknown extension, missing keys or
        labels when ``require_labels``.
    ImportError
        For an HDF5 file without h5py (``pip install 'bpx-backprop[data]'``).
    """
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    problem = regular_file_problem(path)
    if problem is not None:
        raise ValueError(f"{path}: {problem}")
    if os.path.getsize(path) == 0:
        raise ValueError(f"{path}: the file is empty")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        ds = _load_npz(path, x_key, y_key)
    elif ext == ".npy":
        ds = _load_npy(path)
    elif ext in (".csv", ".tsv", ".txt"):
        ds = _load_csv(path, label_column, n_features, default_label_column, delimiter="\t" if ext == ".tsv" else None,
                       tabular=tabular)
    elif ext in (".parquet", ".pq"):
        ds = _load_parquet(path, label_column, n_features, default_label_column, tabular)
    elif ext in (".h5", ".hdf5"):
        ds = _load_h5(path, x_key, y_key)
    elif _idx_header(path) is not None:
        ds = _load_idx(path, labels)
    else:
        raise ValueError(f"{path}: unknown data format {ext or '(no extension)'!r}; known: {', '.join(EXTENSIONS)}")
    _check(ds, require_labels)
    return ds


def _check(ds, require_labels):
    path, X, y = ds.path, ds.X, ds.y
    if X is None:  # a table with text or missing cells: the TablePreprocessor checks it
        X = np.zeros((len(ds.table), 1))
    if X.ndim != 2:
        raise ValueError(f"{path}: X must be 2-D (samples, features), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{path}: no rows (0 samples)")
    if X.shape[1] == 0:
        raise ValueError(f"{path}: no feature columns")
    if not np.all(np.isfinite(X)):
        r, c = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{path}: non-finite value {float(X[r, c])!r} in X at sample {r + 1}, feature {c + 1}")
    if y is None:
        if require_labels:
            raise ValueError(f"{path}: the file holds no labels (y); training and evaluation need them")
        return
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"{path}: X has {X.shape[0]} samples but y has {y.shape[0]}")
    if y.ndim not in (1, 2):
        raise ValueError(f"{path}: y must be labels (m,) or targets (m, k), got shape {y.shape}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        r = int(np.argwhere(~np.isfinite(y))[0][0])
        raise ValueError(f"{path}: non-finite value in y at {ds.where(r)}")


def _as_X(path, a, what="X"):
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{path}: {what} must hold numbers, got dtype {a.dtype}")
    if a.ndim == 1:
        raise ValueError(f"{path}: {what} is 1-D (shape {a.shape}); store it as (samples, features)")
    if a.ndim > 2:
        a = a.reshape(a.shape[0], -1)  # images: (m, h, w[, c]) -> (m, h*w*c)
    return a.astype(np.float64)


def _as_y(path, a, what="y"):
    a = np.asarray(a)
    if a.dtype.kind in "SO":
        a = np.asarray([v.decode() if isinstance(v, bytes) else str(v) for v in a.reshape(-1)]).reshape(a.shape)
    if a.dtype.kind not in "biufU":
        raise ValueError(f"{path}: {what} must hold numbers or names, got dtype {a.dtype}")
    if a.ndim == 2 and 1 in a.shape and a.shape[0] == 1:
        a = a.reshape(-1)  # the cat classifier's HDF5 layout stores labels as a (1, m) row
    elif a.ndim == 2 and a.shape[1] == 1 and a.dtype.kind != "f":
        a = a.reshape(-1)
    elif is_one_hot(a):
        a = a.argmax(axis=1).astype(np.int64)  # one-hot label columns are classes, as MLP.fit takes them
    return a


def is_one_hot(a):
    """Whether ``a`` is (m, k>1) rows of k-1 zeros and one 1: one-hot class labels, read as class indices."""
    a = np.asarray(a)
    if a.ndim != 2 or a.shape[1] < 2 or a.shape[0] == 0 or a.dtype.kind not in "biuf":
        return False
    return bool(np.all((a == 0) | (a == 1)) and np.all(a.sum(axis=1) == 1))


def _pick(path, names, wanted, what, option):
    """The member of ``names`` called ``wanted`` (exact), else one of the case-insensitive defaults."""
    if wanted is not None:
        if wanted in names:
            return wanted
        raise ValueError(f"{path}: no {what} named {wanted!r}; the file holds {', '.join(sorted(names)) or 'nothing'}")
    return None


# -- npz / npy ------------------------------------------------------------------------------------------
def _refuse(path):
    return lambda reason: ValueError(f"{path}: {reason}")


def _check_declared(path, what, shape, dtype, budget=None):
    """Refuse an array whose declared shape needs more memory (as float64) than this process may use,
    before anything is read (a small compressed file may declare gigabytes)."""
    count = math.prod(shape)
    need = count * max(8, dtype.itemsize)
    budget = memory_budget() if budget is None else budget
    if need > budget:
        raise ValueError(f"{path}: {what} declares shape {tuple(shape)} ({need / 2**30:.1f} GiB as float64), more "
                         f"than this process may use ({budget / 2**30:.1f} GiB)")
    return count


def _load_npz(path, x_key, y_key):
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable .npz archive ({exc})") from None
    with archive:
        members = [i.filename for i in archive.infolist()]
        duplicate = next((n for n in members if members.count(n) > 1), None)
        if duplicate is not None:
            raise ValueError(f"{path}: the archive holds member {duplicate!r} twice")
        names = [n[:-4] for n in members if n.endswith(".npy")]
        xk = _pick(path, names, x_key, "array", "x_key") or _default_key(names, ("x",))
        if xk is None:
            raise ValueError(f"{path}: no array 'X' (or 'x'); the file holds {', '.join(sorted(names)) or 'nothing'}")
        yk = _pick(path, names, y_key, "array", "y_key") or _default_key(names, ("y", "labels", "label", "target"))
        X = _npz_member(path, archive, xk)
        y = _npz_member(path, archive, yk) if yk is not None else None
    return Dataset(_as_X(path, X), None if y is None else _as_y(path, y), None, path, label_column=yk)


def _npz_member(path, archive, name):
    """One array of a data .npz: its .npy header checked and its declared size bounded before reading."""
    info = archive.getinfo(name + ".npy")
    try:
        with archive.open(info) as f:
            raw = f.read(MAX_NPY_HEADER + 16)
            dtype, shape, offset, fortran = npy_header(raw, f"array {name!r}", _refuse(path))
            count = _check_declared(path, f"array {name!r}", shape, dtype)
            need = count * dtype.itemsize
            if offset + need != info.file_size:
                raise ValueError(f"{path}: array {name!r} declares {need} bytes of data, the member holds "
                                 f"{info.file_size - offset}")
            data = raw[offset:] + f.read(need - len(raw[offset:]))
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, zlib.error) as exc:
        raise ValueError(f"{path}: array {name!r} is unreadable ({type(exc).__name__}: {exc})") from None
    if len(data) != need:
        raise ValueError(f"{path}: array {name!r} is truncated")
    return _from_bytes(data, dtype, shape, fortran)


def _from_bytes(data, dtype, shape, fortran):
    a = np.frombuffer(data, dtype=dtype)
    return a.reshape(shape[::-1]).T if fortran else a.reshape(shape)


def _load_npy(path):
    with open(path, "rb") as f:
        raw = f.read(MAX_NPY_HEADER + 16)
        dtype, shape, offset, fortran = npy_header(raw, "the file", _refuse(path))
        count = _check_declared(path, "the array", shape, dtype)
        need = count * dtype.itemsize
        size = os.fstat(f.fileno()).st_size
        if offset + need != size:
            raise ValueError(f"{path}: the .npy header declares {need} bytes of data, the file holds {size - offset}")
        data = raw[offset:] + f.read(need - len(raw[offset:]))
    return Dataset(_as_X(path, _from_bytes(data, dtype, shape, fortran)), None, None, path)


# -- CSV and Parquet ----------------------------------------------------------------------------------
def _load_csv(path, label_column, n_features, default_label_column=None, delimiter=None, tabular=False):
    """Through Arrow where pyarrow is installed; the careful reader names the row and column of what
    Arrow cannot take (and reads everything without pyarrow)."""
    def careful():
        ds = _careful_csv(path, label_column, n_features, default_label_column, delimiter)
        if tabular:
            ds.table = Table(ds.feature_names, [ds.X[:, j] for j in range(ds.X.shape[1])])
        return ds

    if not arrow_available():
        return careful()
    if delimiter is None:
        delimiter = _sniff_delimiter(path)
    table = read_csv(path, delimiter)
    if table is None:
        return careful()
    try:
        _check_header(path, [str(h).strip() for h in table.column_names], 1)
    except ValueError:  # a repeated name or no header row: the careful reader names the header's row
        return careful()
    ds = _from_arrow(path, table, label_column, n_features, default_label_column, tabular, careful)
    if ds.lines is None:
        ds.lines = _FileRows(path, delimiter)
    return ds


class _FileRows:
    """The file row of each sample (the header being row 1), as the careful reader counts them, read only
    when a message names a sample: Arrow keeps no line numbers, so the first lookup reads the file again
    with the csv module, once."""

    def __init__(self, path, delimiter):
        self.path, self.delimiter, self.rows = path, delimiter, None

    def __getitem__(self, i):
        if self.rows is None:
            with open(self.path, newline="", encoding="utf-8-sig") as f:
                reader = csv.reader(f, delimiter=self.delimiter)
                lines = [reader.line_num for row in reader if row and any(cell.strip() for cell in row)]
            self.rows = lines[1:]  # the first non-blank row is the header
        return self.rows[i]


def _sniff_delimiter(path):
    try:
        with open(path, encoding="utf-8-sig") as f:
            first = next((line for line in f if line.strip()), "")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text file ({exc})") from None
    return max((",", ";", "\t"), key=first.count) if any(d in first for d in ",;\t") else ","


def _load_parquet(path, label_column, n_features, default_label_column, tabular):
    if not arrow_available():
        raise ImportError(f"{path}: reading Parquet files needs pyarrow: {install_hint('data')}")
    return _from_arrow(path, read_parquet(path), label_column, n_features, default_label_column,
                       tabular, None)


def _from_arrow(path, table, label_column, n_features, default_label_column, tabular, careful):
    """A Dataset from an Arrow table. What only the careful reader can word (a gap, text or a
    non-finite value in a numeric read, an empty label) is handed to ``careful`` (CSV: it names the
    file's row and column); for Parquet the row is the sample's number."""
    import pyarrow as pa

    header = [str(h).strip() for h in table.column_names]
    if table.num_rows == 0:
        if careful is not None:
            return careful()
        raise ValueError(f"{path}: no rows (only a header)")
    label = _label_index(path, header, label_column, n_features, default_label_column)
    feats = [j for j in range(len(header)) if j != label]
    if not feats:
        raise ValueError(f"{path}: no feature columns besides the label column {header[label]!r}")
    y = None
    if label is not None:
        col = table.column(label)
        if col.null_count:
            if careful is not None:
                return careful()
            k = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
            raise ValueError(f"{path}: row {k + 1}, column {label + 1} ({header[label]!r}): empty label")
        if is_numeric(col) and not pa.types.is_boolean(col.type):
            y = column_values(col)
            if not np.all(np.isfinite(y)):
                if careful is not None:
                    return careful()
                k = int(np.flatnonzero(~np.isfinite(y))[0])
                raise ValueError(f"{path}: row {k + 1}, column {label + 1} ({header[label]!r}): non-finite label")
            if np.all(y == np.round(y)):
                y = y.astype(np.int64)
        else:
            y = np.asarray([str(v) for v in col.cast(pa.string()).to_pylist()], dtype=str)
    names = [header[j] for j in feats]
    columns = [table.column(j) for j in feats]
    numeric = all(is_numeric(c) and not c.null_count for c in columns)
    X = numeric_matrix(columns) if numeric else None
    if X is not None and not np.all(np.isfinite(X)):
        X = None
    if X is None and not tabular:
        if careful is not None:
            return careful()
        for name, j, col in zip(names, feats, columns):
            if not is_numeric(col):
                raise ValueError(f"{path}: column {j + 1} ({name!r}) holds text ({col.type}); pass tabular=True "
                                 f"(bpx train does) to one-hot encode it")
            values = column_values(col)
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                raise ValueError(f"{path}: row {int(bad[0]) + 1}, column {j + 1} ({name!r}): missing or non-finite "
                                 f"value")
    if not tabular:
        found = None
    elif X is not None:
        found = Table(names, [X[:, j] for j in range(X.shape[1])])
    else:
        found = from_arrow(pa.Table.from_arrays(columns, names=names), path)
    return Dataset(X, y, None, path, feature_names=names, label_column=None if label is None else header[label],
                   table=found)


def refuse_gaps(ds):
    """``--missing error``: a ValueError naming the first missing feature cell of ``ds`` (read with
    ``tabular=True``) by its row and column, as the careful reader words it (CSV: the file's row, the
    header being row 1; Parquet: the sample's number); nothing when no cell is missing."""
    table = ds.table
    if table is None or not any(table.n_missing(n) for n in table.names):
        return
    path = ds.path
    if os.path.splitext(path)[1].lower() in (".csv", ".tsv", ".txt"):
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read()
        delimiter = "\t" if path.lower().endswith(".tsv") else _sniff_delimiter(path)
        reader, header = csv.reader(io.StringIO(text), delimiter=delimiter), None
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            if header is None:
                header = [h.strip() for h in row]
                wanted = [(header.index(n), n) for n in table.names if n in header]
                continue
            for j, name in wanted:
                cell = row[j].strip() if j < len(row) else ""
                if cell in NULL_VALUES:
                    raise ValueError(f"{path}: row {reader.line_num}, column {j + 1} ({name!r}): empty cell")
                if _is_nonfinite(cell):
                    raise ValueError(f"{path}: row {reader.line_num}, column {j + 1} ({name!r}): "
                                     f"non-finite value {cell!r}")
    for name in table.names:
        gone = missing_rows(table.column(name))
        if gone.size:
            raise ValueError(f"{path}: row {int(gone[0]) + 1}, column {table.names.index(name) + 1} ({name!r}): "
                             f"empty cell")


def _is_nonfinite(cell):
    try:
        return not np.isfinite(float(cell))
    except ValueError:
        return False


def _careful_csv(path, label_column, n_features, default_label_column=None, delimiter=None):
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text file ({exc})") from None
    if not text.strip():
        raise ValueError(f"{path}: the file is empty")
    if delimiter is None:
        first = text.splitlines()[0]
        delimiter = max((",", ";", "\t"), key=first.count) if any(d in first for d in ",;\t") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header, rows, lines = None, [], []
    try:
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            if header is None:
                header = [h.strip() for h in row]
                _check_header(path, header, reader.line_num)
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"{path}: row {reader.line_num} has {len(row)} columns, the header has {len(header)}"
                )
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:  # a field longer than the csv module's limit, a NUL byte, ...
        raise ValueError(f"{path}: row {max(reader.line_num, 1)}: not readable as CSV ({exc})") from None
    if not rows:
        raise ValueError(f"{path}: no rows (only a header)")
    ncol = len(header)
    label = _label_index(path, header, label_column, n_features, default_label_column)
    feats = [j for j in range(ncol) if j != label]
    if not feats:
        raise ValueError(f"{path}: no feature columns besides the label column {header[label]!r}")
    table = np.asarray(rows, dtype=object)
    X = _parse_numbers(path, table[:, feats], lines, [(header[j], j + 1) for j in feats])
    y = None
    if label is not None:
        raw = [cell.strip() for cell in table[:, label]]
        for k, cell in enumerate(raw):
            if not cell:
                raise ValueError(f"{path}: row {lines[k]}, column {label + 1} ({header[label]!r}): empty label")
        try:
            y = np.asarray(raw, dtype=np.float64)
        except ValueError:
            y = np.asarray(raw, dtype=str)  # non-numeric: class names
        else:
            bad = np.flatnonzero(~np.isfinite(y))
            if bad.size:
                k = int(bad[0])
                raise ValueError(
                    f"{path}: row {lines[k]}, column {label + 1} ({header[label]!r}): non-finite label {raw[k]!r}"
                )
            if np.all(y == np.round(y)):
                y = y.astype(np.int64)
    return Dataset(X, y, None, path, feature_names=[header[j] for j in feats],
                   label_column=None if label is None else header[label], lines=lines)


def _check_header(path, header, line):
    """The first row must name the columns: no repeated name, and not all numbers (a file without a header
    row would silently lose its first sample into the column names)."""
    seen = {}
    for j, name in enumerate(header):
        if name and name in seen:
            raise ValueError(f"{path}: row {line} (the header): the column name {name!r} appears twice (columns "
                             f"{seen[name] + 1} and {j + 1}); give each column its own name")
        seen[name] = j
    try:
        [float(h) for h in header]
    except ValueError:
        return
    shown = ", ".join(header[:4]) + (", ..." if len(header) > 4 else "")
    raise ValueError(f"{path}: row {line} ({shown}) is all numbers, so the file has no header row; bpx reads the "
                     f"first row as the column names: add a header row (e.g. x1,x2,...,label)")


def _parse_numbers(path, cells, lines, columns):
    """The string cells as float64, or a ValueError naming the first bad cell's row and column."""
    try:
        X = np.asarray(cells, dtype=str).astype(np.float64)
    except ValueError:
        X = None
    if X is not None:
        bad = np.argwhere(~np.isfinite(X))
        if not bad.size:
            return X
        i, j = bad[0]
        name, number = columns[j]
        raise ValueError(f"{path}: row {lines[i]}, column {number} ({name!r}): non-finite value {cells[i, j].strip()!r}")
    for i in range(cells.shape[0]):
        for j in range(cells.shape[1]):
            try:
                float(cells[i, j])
            except ValueError:
                name, number = columns[j]
                text = cells[i, j].strip()
                what = "empty cell" if not text else f"not a number: {text!r}"
                raise ValueError(f"{path}: row {lines[i]}, column {number} ({name!r}): {what}") from None
    raise AssertionError("unreachable")


# -- HDF5 -----------------------------------------------------------------------------------------------
def _load_h5(path, x_key, y_key):
    """Opened and checked as the lazy Dask opener does (:mod:`bpx.data._hdf5`: data stored in the file
    only), then read whole."""
    with open_h5(path) as f:
        names = dataset_names(f)  # soft and external links are not followed
        xk = _pick(path, names, x_key, "dataset", "x_key")
        if xk is None:
            xk = _default_key(names, ("x",))
        if xk is None:
            seeds = sorted(n for n in names if n.endswith("_set_x"))
            if len(seeds) == 1:
                xk = seeds[0]
            elif seeds:
                raise ValueError(f"{path}: several X datasets ({', '.join(seeds)}); choose one with --x-key")
        if xk is None:
            raise ValueError(f"{path}: no dataset 'X' (or '*_set_x'); the file holds {', '.join(sorted(names)) or 'nothing'}")
        yk = _pick(path, names, y_key, "dataset", "y_key")
        if yk is None:
            guess = xk[:-1] + ("y" if xk.endswith("x") else "Y") if xk.lower().endswith("x") else None
            yk = guess if guess in names else _default_key(names, ("y", "labels", "label", "target"))
        X = _as_X(path, _h5_read(path, f, xk), f"dataset {xk!r}")
        y = _as_y(path, _h5_read(path, f, yk), f"dataset {yk!r}") if yk is not None else None
        classes = None
        if "list_classes" in names and y is not None and y.ndim == 1 and y.dtype.kind in "iu":
            stored = _h5_read(path, f, "list_classes")
            classes = [c.decode() if isinstance(c, bytes) else str(c) for c in stored.reshape(-1)]
    return Dataset(X, y, classes, path, label_column=yk)


def _h5_read(path, f, name):
    """A dataset's values: stored in the file (:func:`bpx.data._hdf5.stored_dataset` refuses external
    raw files, virtual datasets and links, which would read whatever file they name), its declared size
    within memory."""
    ds = stored_dataset(path, f, name)
    if ds.dtype.kind in "biuf":
        _check_declared(path, f"dataset {name!r}", ds.shape, ds.dtype)
    elif math.prod(ds.shape) > 1 << 24:
        raise ValueError(f"{path}: dataset {name!r} declares {math.prod(ds.shape)} text entries")
    try:
        return ds[()]
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: dataset {name!r} is unreadable ({exc})") from None


# -- MNIST IDX ------------------------------------------------------------------------------------------
def _open(path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _idx_header(path):
    """``(dtype, shape)`` when ``path`` (gzipped or not) starts with an IDX magic number, else None."""
    try:
        with _open(path) as f:
            head = f.read(4)
            if len(head) < 4 or head[0] or head[1] or head[2] not in _IDX_DTYPES or not 1 <= head[3] <= 4:
                return None
            dims = f.read(4 * head[3])
            if len(dims) < 4 * head[3]:
                return None
    except (OSError, EOFError):
        return None
    return _IDX_DTYPES[head[2]], tuple(int(d) for d in np.frombuffer(dims, dtype=">u4"))


def _read_idx(path):
    header = _idx_header(path)
    if header is None:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    dtype, shape = header
    offset = 4 + 4 * len(shape)
    count = _check_declared(path, "the IDX header", shape, np.dtype(dtype))  # Python ints: no overflow
    need = count * np.dtype(dtype).itemsize
    try:
        with _open(path) as f:
            data = f.read(offset + need + 1)  # one byte more: a longer file is refused, never read whole
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: unreadable IDX file ({exc})") from None
    if len(data) - offset != need:
        more = "more than" if len(data) - offset > need else str(len(data) - offset)
        raise ValueError(f"{path}: IDX header announces shape {shape} ({need} bytes), the file holds {more}"
                         + (" that" if more == "more than" else ""))
    return np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)


def _idx_sibling(path):
    folder, name = os.path.split(path)
    for a, b in (("images-idx3", "labels-idx1"), ("images.idx3", "labels.idx1"), ("images", "labels")):
        if a in name:
            candidate = os.path.join(folder, name.replace(a, b))
            if os.path.exists(candidate):
                return candidate
            alt = candidate[:-3] if candidate.endswith(".gz") else candidate + ".gz"
            if os.path.exists(alt):
                return alt
    return None


def _load_idx(path, labels):
    images = _read_idx(path)
    if images.ndim == 1:
        raise ValueError(f"{path}: an IDX labels file (1-D); pass the images file, with this one as the labels")
    y = None
    labels = labels if labels is not None else _idx_sibling(path)
    if labels is not None:
        y = _read_idx(os.fspath(labels))
        if y.ndim != 1:
            raise ValueError(f"{os.fspath(labels)}: an IDX labels file must be 1-D, got shape {y.shape}")
        y = y.astype(np.int64)
    return Dataset(_as_X(path, images), y, None, path, label_column=None if labels is None else os.fspath(labels))


def open_dask(path, x_key=None, y_key=None, label_column=None, chunks=None, labels=None):
    """Open big data lazily: a :class:`Dataset` whose X and y are dask arrays chunked by rows (a zarr
    store, an HDF5 dataset, a directory or glob of .npy/.npz shards, a CSV file); docs/guide/dask.md.
    Local paths are made absolute before the graph is built (a cluster's workers seldom share the
    client's working directory). Needs ``pip install 'bpx-backprop[dask]'``.

    Parameters
    ----------
    path : str or os.PathLike
        The store, file, directory or glob. ``.npy`` shards hold X only, or come in pairs
        ``X_<name>.npy`` + ``y_<name>.npy`` (matched by ``<name>``; also ``labels_``/``label_``/
        ``target_``, any case).
    x_key, y_key : str, optional
        The arrays (zarr) or datasets (HDF5) holding X and y.
    label_column : str or int, optional
        The CSV label column.
    chunks : int, optional
        Rows per chunk (default about 64 MiB per chunk; one chunk per shard for .npz shards).
    labels : str or os.PathLike, optional
        For .npy shards: a directory or glob of .npy label shards, paired with the X shards in file-name
        order (one per X shard, the same number of rows).

    Returns
    -------
    Dataset
        Whose ``X`` and ``y`` are lazy dask arrays with the same row chunks; nothing is read yet.

    Raises
    ------
    TypeError
        If ``path`` is not a path.
    ValueError
        If nothing is there, the shards mix kinds, or the format is not one dask can open lazily.
    ImportError
        Without dask (``pip install 'bpx-backprop[dask]'``)."""
    return open_dask_data(path, x_key=x_key, y_key=y_key, label_column=label_column, chunks=chunks, labels=labels)
