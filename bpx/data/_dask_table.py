"""CSV and Parquet tables opened lazily for Dask, with text columns and missing cells: the lazy
counterpart of :class:`bpx.data.Table` and of :meth:`bpx.data.TablePreprocessor.fit`.

Host-side data code (docs/development/architecture.md: the math modules know nothing of tables; this
may import dask and pandas). :func:`open_table` opens the file with ``dask.dataframe`` (``read_csv``
in blocks of about :data:`bpx.distributed.CHUNK_BYTES`, or ``read_parquet`` by row group) and reads
only the label column and each partition's row count, in one ``dask.compute``. :func:`fit_table`
learns the :class:`bpx.data.TablePreprocessor` from dask reductions instead of the rows:

- **text columns**: ``value_counts`` per column, exact; the categories are then chosen exactly as the
  host does (:meth:`TablePreprocessor.from_statistics`);
- **numeric columns**: missing cells, minimum, maximum, mean and variance, and the **exact median**:
  dask's approximate quantiles (``Series.quantile``, which merges per-partition percentiles and may be
  off by a few percent of the rows) only bracket it; a second pass counts the cells below the bracket
  and the cells inside it (``value_counts``), and the median is read off those counts, exactly as
  ``numpy.median`` gives it (a bracket that missed is widened and the pass repeated). The host then
  holds the distinct values of about a tenth of the rows per numeric column, at most;
- the scaling's mean and standard deviation are those of the imputed column (the median filling the
  missing cells), derived from the present cells' by the pairwise-update formula.

That is two or three ``dask.compute`` calls whatever the table's size. The encoded features are then
``map_partitions`` of the host :meth:`TablePreprocessor.transform` (one chunk per partition, in the
network's float dtype) with the partitions' known row counts, so that training runs as on any dask array.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from ..utils._extras import install_hint
from ._arrow_files import NULL_VALUES
from ._dask_data import absolute, csv_blocksize, csv_header
from ._layout import Dataset, label_index
from ._table import MISSING, TablePreprocessor

TABLE_EXTENSIONS = (".csv", ".tsv", ".txt", ".parquet", ".pq")
MEDIAN_BRACKET = 0.05  # the exact median's first bracket: dask's approximate quantiles 0.45 and 0.55


def is_table_file(path):
    """Whether ``path`` is a CSV or Parquet file (:func:`open_table` opens it)."""
    return os.path.splitext(os.fspath(path))[1].lower() in TABLE_EXTENSIONS and os.path.isfile(path)


class DaskTable:
    """A table's feature columns as a ``dask.dataframe.DataFrame`` whose partitions' row counts are known:
    ``names``, ``shape``, ``len``, rows by index (``table[rows]``, lazily) and, like a dask array,
    ``chunks`` and ``numblocks``; :meth:`encode` turns it into a dask array through a fitted
    :class:`TablePreprocessor`.

    Parameters
    ----------
    source : dask.dataframe.DataFrame
        The file's feature columns.
    lengths : sequence of int
        The row count of each partition of ``source``.
    path : str
        The file (in messages).
    first_row : int
        The file row of the first data row (2 for a CSV file with its header, 1 for Parquet).
    header : list of str, optional
        All the file's columns (label included), for the column numbers in messages.
    picks : list of numpy.ndarray, optional
        The rows this table holds: per partition of ``source``, the indices of its rows kept (None:
        all)."""

    def __init__(self, source, lengths, path, first_row=1, header=None, picks=None):
        self.source, self.path, self.first_row = source, path, first_row
        self.source_lengths = [int(n) for n in lengths]
        self.picks = picks
        self.lengths = self.source_lengths if picks is None else [len(p) for p in picks if len(p)]
        self.names = [str(c) for c in source.columns]
        self.header = list(header) if header is not None else self.names

    def __len__(self):
        return sum(self.lengths)

    @property
    def shape(self):
        return (len(self), len(self.names))

    @property
    def chunks(self):
        return (tuple(self.lengths), (len(self.names),))

    @property
    def numblocks(self):
        return (len(self.lengths), 1)

    @property
    def frame(self):
        """The table's rows as a dask DataFrame (the source's partitions, each cut to its picks)."""
        if self.picks is None:
            return self.source
        import dask
        import dask.dataframe as dd

        parts = [dask.delayed(_take_rows)(part, picks) for part, picks in zip(self.source.to_delayed(), self.picks)
                 if len(picks)]
        return dd.from_delayed(parts, meta=self.source, verify_meta=False)

    def file_row(self, i):
        """The file row of this table's row ``i`` (the header being row 1 of a CSV file)."""
        if self.picks is not None:
            kept = np.concatenate([p + o for p, o in zip(self.picks, np.cumsum([0] + self.source_lengths[:-1]))])
            i = int(kept[i])
        return i + self.first_row

    def __getitem__(self, rows):
        """The rows ``rows`` (sorted distinct indices into this table) as a new DaskTable, selected lazily
        partition by partition: each partition's task gets its own row indices, no more."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.ndim != 1 or (rows.size and (np.any(np.diff(rows) <= 0) or rows[0] < 0 or rows[-1] >= len(self))):
            raise ValueError(f"rows must be sorted distinct indices into the table's {len(self)} rows")
        current = self.picks if self.picks is not None else [np.arange(n) for n in self.source_lengths]
        offsets = np.concatenate([[0], np.cumsum([len(p) for p in current])])
        bounds = np.searchsorted(rows, offsets)
        picks = [p[rows[a:b] - o] for p, a, b, o in zip(current, bounds[:-1], bounds[1:], offsets)]
        return DaskTable(self.source, self.source_lengths, self.path, self.first_row, self.header, picks)

    def encode(self, pre, dtype="float64", name=None):
        """The table as a dask array (rows, ``pre.n_features_out``) of ``dtype``, chunked by the partitions'
        known row counts: ``pre.transform`` of each partition (``map_partitions``; a selection of rows:
        of each partition's picks). A missing, renamed or extra column is a ValueError naming it, raised
        here, before any work."""
        import dask
        import dask.array as da
        import pandas as pd

        dtype, name, n_out = np.dtype(dtype).name, name or self.path, pre.n_features_out
        # the columns checked now, on an empty frame of the table's types: a misfit is named before any work
        pre.transform(pd.DataFrame({n: pd.Series(dtype=t) for n, t in self.source.dtypes.items()}), name)
        if self.picks is None:
            columns = [str(j) for j in range(n_out)]
            meta = pd.DataFrame({c: np.zeros(0, dtype=dtype) for c in columns})
            return self.source.map_partitions(_encoded, pre, dtype, name, columns, meta=meta).to_dask_array(
                lengths=self.lengths)
        # dask 2026.8 cannot turn a DataFrame built from delayed partitions into an array with known chunks
        # ("Missing dependency"): the picked rows are encoded from the source's partitions directly
        blocks = [da.from_delayed(dask.delayed(_encoded)(part, pre, dtype, name, None, picks), shape=(len(picks), n_out),
                                  dtype=dtype)
                  for part, picks in zip(self.source.to_delayed(), self.picks) if len(picks)]
        return blocks[0] if len(blocks) == 1 else da.concatenate(blocks, axis=0)

    def __repr__(self):
        return f"DaskTable({self.path}: {len(self)} rows in {len(self.lengths)} partition(s), columns {self.names})"


def _take_rows(part, picks):
    return part.iloc[picks]


def _encoded(part, pre, dtype, name, columns=None, picks=None):
    """``pre.transform`` of a partition (of its rows ``picks``) in ``dtype``: a DataFrame of ``columns``
    (map_partitions), else the array."""
    import pandas as pd

    X = pre.transform(part if picks is None else part.iloc[picks], name).astype(dtype, copy=False)
    return X if columns is None else pd.DataFrame(X, columns=columns, index=part.index)


# -- opening ---------------------------------------------------------------------------------------------------
def open_table(path, label_column=None, chunks=None, n_features=None, default_label_column=None):
    """The CSV or Parquet file ``path`` as a :class:`bpx.datasets.Dataset` whose ``table`` is a
    :class:`DaskTable` of the feature columns (``X`` None) and whose ``y`` holds the label column on the
    host (class names as text; integral numbers as int64). ``chunks``: rows per partition (about).

    Raises
    ------
    ValueError
        A missing or non-finite label (its row and column), a file dask cannot read, a column whose
        type the first rows of a CSV file did not show."""
    import dask

    try:
        import dask.dataframe as dd
    except ImportError:
        raise ImportError(f"{path}: opening a table lazily needs dask.dataframe: {install_hint('dask')}") from None
    shown, path = os.fspath(path), absolute(os.fspath(path))
    if not os.path.isfile(path):
        raise ValueError(f"{shown}: no such file")
    csv = not path.lower().endswith((".parquet", ".pq"))
    if csv:
        delimiter, header, sample = csv_header(path, "\t" if path.lower().endswith(".tsv") else None)
        blocksize = csv_blocksize(chunks, sample)
        if len(set(header)) != len(header):
            raise ValueError(f"{shown}: the header row must name each column once, got {header}")

        def read_csv(**dtype):
            frame = dd.read_csv(path, sep=delimiter, blocksize=blocksize, na_values=NULL_VALUES, keep_default_na=False,
                                skipinitialspace=True, assume_missing=True, encoding="utf-8-sig", **dtype)
            if len(frame.columns) != len(header):
                raise ValueError(f"{shown}: the header row names {len(header)} columns, dask reads {len(frame.columns)}")
            frame.columns = header
            return frame

        frame = read_csv()
    else:
        try:
            frame = dd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{shown}: not a readable Parquet file ({exc})") from None
        header = [str(c) for c in frame.columns]
        if chunks is not None:
            frame = frame.repartition(npartitions=max(1, -(-len(frame) // chunks)))
    label = label_index(shown, header, label_column, n_features, default_label_column)  # None: features only
    feats = [h for j, h in enumerate(header) if j != label]
    if not feats:
        raise ValueError(f"{shown}: no feature columns besides the label column {header[label]!r}")
    for name in feats:
        if frame[name].dtype.kind in "mM":
            raise TypeError(f"{shown}: column {name!r} holds dates or durations ({frame[name].dtype}); convert it to "
                            f"numbers")
    first_row = 2 if csv else 1
    try:
        lengths, y = dask.compute(frame.map_partitions(len), None if label is None else frame[header[label]])
    except (ValueError, TypeError) as exc:
        if not (csv and "Mismatched dtypes" in str(exc)):
            raise ValueError(f"{shown}: not readable as a table ({exc})") from None
        # dask typed a column by the file's first block, and a later block holds text there: every column
        # read as text, then typed by the whole file (numbers only: float64), as the host's Arrow reader does
        frame = read_csv(dtype=object)
        numbers = set(header).intersection(*dask.compute(*[dask.delayed(_number_columns)(p)
                                                           for p in frame.to_delayed()]))
        frame = frame.astype({n: "float64" for n in header if n in numbers})
        lengths, y = dask.compute(frame.map_partitions(len), None if label is None else frame[header[label]])
    if not sum(lengths):
        raise ValueError(f"{shown}: no rows (only a header)")
    table = DaskTable(frame[feats], list(lengths), shown, first_row, header)
    if y is not None:
        y = _labels(y, shown, first_row, label, header[label])
    ds = Dataset(None, y, None, shown, feature_names=feats, label_column=None if label is None else header[label],
                 table=table)
    return ds


def _number_columns(part):
    """The columns of a partition read as text whose every present cell is a number."""
    import pandas as pd

    return {c for c in part.columns if pd.to_numeric(part[c].dropna(), errors="coerce").notna().all()}


def _labels(y, path, first_row, j, name):
    """The label column (a pandas Series) as the host loader gives it: integral numbers as int64, other
    numbers as float64, text as str; a missing or non-finite label is an error naming its row."""
    gone = np.flatnonzero(y.isna().to_numpy())
    if gone.size:
        raise ValueError(f"{path}: row {int(gone[0]) + first_row}, column {j + 1} ({name!r}): empty label")
    if y.dtype.kind in "iuf":
        values = y.to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise ValueError(f"{path}: row {int(bad[0]) + first_row}, column {j + 1} ({name!r}): non-finite label")
        return values.astype(np.int64) if np.all(values == np.round(values)) else values
    if y.dtype.kind == "b":
        return np.asarray(["true" if v else "false" for v in y], dtype=str)
    return np.asarray([str(v).strip() for v in y], dtype=str)


# -- fitting -------------------------------------------------------------------------------------------------
def refuse_gaps(table):
    """``--missing error``: a ValueError naming the first missing cell of ``table`` by its file row and
    its column (one pass; nothing when no cell is missing)."""
    import dask

    firsts = dask.compute(*[dask.delayed(_first_gap)(p) for p in table.frame.to_delayed()])
    offset = 0
    for n, found in zip(table.lengths, firsts):
        if found is not None:
            i, name = found
            raise ValueError(f"{table.path}: row {table.file_row(offset + i)}, column {table.header.index(name) + 1} "
                             f"({name!r}): empty cell")
        offset += n


def _first_gap(part):
    gone = part.isna().to_numpy()
    rows = np.flatnonzero(gone.any(axis=1))
    if not rows.size:
        return None
    return int(rows[0]), str(part.columns[int(np.flatnonzero(gone[rows[0]])[0])])


def fit_table(table, scale="auto", missing="impute", max_categories=None):
    """The :class:`TablePreprocessor` that ``fit`` would learn from ``table`` (a :class:`DaskTable`),
    from dask reductions (see the module docstring): categories and medians exact, the scaling's mean
    and standard deviation up to rounding. ``missing="error"`` refuses a table with gaps without naming
    a row: call :func:`refuse_gaps` first for the row and column (``bpx train`` does, on the whole file)."""
    import dask

    kw = {} if max_categories is None else {"max_categories": max_categories}
    frame = table.frame
    numeric = [n for n in table.names if frame[n].dtype.kind in "biuf"]
    text = [n for n in table.names if n not in numeric]
    num = frame[numeric].astype("float64") if numeric else None
    lazy = {"counts": {n: frame[n].value_counts(dropna=False, split_out=1) for n in text}}
    if numeric:
        lazy.update(present=num.count(), low=num.min(), high=num.max(), mean=num.mean(), var=num.var(ddof=0),
                    bracket={n: num[n].quantile([0.5 - MEDIAN_BRACKET, 0.5 + MEDIAN_BRACKET]) for n in numeric})
    with warnings.catch_warnings():  # a column without a present cell: its mean and variance are NaN, unused
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        warnings.filterwarnings("ignore", "Degrees of freedom", RuntimeWarning)
        (got,) = dask.compute(lazy)
    medians = _exact_medians(num, got) if numeric else {}
    statistics = []
    for n in table.names:
        if n in text:
            counts = {}
            for key, v in got["counts"][n].items():
                key = MISSING if _is_missing(key) else str(key)
                counts[key] = counts.get(key, 0) + int(v)
            statistics.append({"type": "text", "counts": counts})
            continue
        present, lo, hi = int(got["present"][n]), float(got["low"][n]), float(got["high"][n])
        if not (np.isfinite(lo) and np.isfinite(hi)) and present:
            raise ValueError(f"{table.path}: column {n!r} holds an infinite value")
        gone, median = len(table) - present, medians.get(n, 0.0)
        mean, var = (float(got["mean"][n]), float(got["var"][n])) if present else (0.0, 0.0)
        if gone:  # the imputed column: `gone` more cells equal to the median (pairwise update)
            delta, total = median - mean, present + gone
            mean, var = mean + delta * gone / total, (var * present + delta ** 2 * present * gone / total) / total
            lo, hi = (min(lo, median), max(hi, median)) if present else (median, median)
        statistics.append({"type": "number", "missing": gone, "median": median, "min": lo, "max": hi, "mean": mean,
                           "std": float(np.sqrt(max(var, 0.0)))})
    return TablePreprocessor.from_statistics(table.names, statistics, scale=scale, missing=missing, **kw)


def _is_missing(key):
    import pandas as pd

    return bool(pd.isna(key))


def _exact_medians(num, got):
    """Each numeric column's median as ``numpy.median`` of its present cells gives it: the cells below the
    bracket counted and those in it tallied by value, the bracket widened until it holds the middle rank(s)."""
    import dask

    todo, medians = {}, {}
    for n in num.columns:
        present = int(got["present"][n])
        if present:
            lo, hi = (float(v) for v in got["bracket"][n].to_numpy())
            todo[n] = (present, lo if np.isfinite(lo) else -np.inf, hi if np.isfinite(hi) else np.inf)
        else:
            medians[n] = 0.0
    while todo:
        lazy = {n: ((num[n] < lo).sum(), num[n][(num[n] >= lo) & (num[n] <= hi)].value_counts(split_out=1))
                for n, (_, lo, hi) in todo.items()}
        (counted,) = dask.compute(lazy)
        again = {}
        for n, (below, tally) in counted.items():
            present, lo, hi = todo[n]
            below, tally = int(below), tally.sort_index()
            values, cum = tally.index.to_numpy(dtype=np.float64), np.cumsum(tally.to_numpy())
            ranks = ((present - 1) // 2, present // 2)
            inside = int(cum[-1]) if cum.size else 0
            if below <= ranks[0] and ranks[1] < below + inside:
                middle = [values[np.searchsorted(cum, r - below, side="right")] for r in ranks]
                medians[n] = float(np.mean(middle))
            else:  # the approximate bracket missed the middle: open the side that missed
                again[n] = (present, -np.inf if below > ranks[0] else lo, np.inf if ranks[1] >= below + inside else hi)
        todo = again
    return medians
