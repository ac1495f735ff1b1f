"""Tables on the host: named columns of numbers or text, and the preprocessing a model carries.

A :class:`Table` is what a CSV or Parquet file, a pandas or polars DataFrame or a pyarrow Table becomes:
named columns, each a float64 vector (a missing cell is NaN) or a text vector (object, a missing cell
is None). :class:`TablePreprocessor` turns a table into the float64 matrix a network computes on, and
remembers how, as plain JSON, so that the model file carries it (``net.metadata["preprocessing"]``):

- **columns by name**: the feature names and their order; a later table is matched by name (any
  order); a missing, renamed or extra column is a ``ValueError`` naming it;
- **numeric columns**: a missing cell is filled with the column's training median; then the block of
  numeric columns is scaled by :class:`bpx.data.Scaler` (``auto``: :func:`choose_scaling`'s choice);
- **text columns**: one-hot over the categories seen in training, sorted by name. At most
  ``max_categories`` (default ``MAX_CATEGORIES`` = 50) per column: when a column has more, the
  ``max_categories - 1`` most frequent are kept and every other value, in training and later, goes to
  one ``"(other)"`` column. A missing cell is its own category, ``"(missing)"``. In a column within the
  cap, a category never seen in training encodes as all zeros (scikit-learn's
  ``OneHotEncoder(handle_unknown="ignore")``): the row still gets a prediction;
- ``missing="error"`` refuses a missing cell instead, naming its row and column.

The encoded matrix holds the numeric columns first (in table order), then one block of one-hot columns
per text column (in table order): :attr:`TablePreprocessor.output_names` names every column. This runs
on the host before any backend sees the data (docs/development/architecture.md: the math modules know
nothing of tables). pandas, pyarrow and polars are never imported here: a DataFrame is recognised by its
type's module, so ``import bpx`` stays free of them.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from ._arrow_files import column_values
from ._preprocessing import Scaler, choose_scaling

MAX_CATEGORIES = 50  # one-hot columns per text column at most; the rarest categories share "(other)"
MISSING = "(missing)"  # the category of a missing text cell
OTHER = "(other)"  # the category of the rare categories beyond max_categories
MISSING_POLICIES = ("impute", "error")
_FRAME_MODULES = ("pandas", "polars", "pyarrow")


class Table:
    """Named columns of equal length: float64 vectors (NaN: missing) or object vectors of str (None:
    missing).

    Parameters
    ----------
    names : list of str
        The column names, distinct.
    columns : list of numpy.ndarray
        One vector per name."""

    def __init__(self, names, columns):
        names = [str(n) for n in names]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise ValueError(f"the table has two columns named {dup!r}")
        lengths = {len(c) for c in columns}
        if len(lengths) > 1:
            raise ValueError(f"the table's columns differ in length: {sorted(lengths)}")
        self.names, self.columns = names, list(columns)

    def __len__(self):
        return len(self.columns[0]) if self.columns else 0

    @property
    def shape(self):
        return (len(self), len(self.names))

    def __getitem__(self, rows):
        """The rows ``rows`` (an index array, slice or mask) as a new Table."""
        return Table(self.names, [c[rows] for c in self.columns])

    def column(self, name):
        return self.columns[self.names.index(name)]

    def n_missing(self, name):
        return int(missing_rows(self.column(name)).size)

    def numeric_matrix(self, name="X"):
        """All columns as one float64 (m, n) matrix; a TypeError naming a text column."""
        X = np.empty((len(self), len(self.names)))
        for j, c in enumerate(self.columns):
            if c.dtype == object:
                raise TypeError(f"{name}: column {self.names[j]!r} holds text; a network without preprocessing takes "
                                f"numbers only (fit it on the DataFrame to one-hot encode the column)")
            X[:, j] = c
        return X

    def __repr__(self):
        return f"Table({len(self)} rows, columns {self.names})"


def is_frame(X):
    """Whether ``X`` is a table with column names: a :class:`Table`, a pandas or polars DataFrame or a
    pyarrow Table (recognised without importing those libraries)."""
    if isinstance(X, Table):
        return True
    module = type(X).__module__.split(".")[0]
    return module in _FRAME_MODULES and (hasattr(X, "columns") or hasattr(X, "column_names")) and hasattr(X, "shape")


def as_table(X, name="X"):
    """``X`` (a Table, pandas/polars DataFrame or pyarrow Table) as a :class:`Table`."""
    if isinstance(X, Table):
        return X
    module = type(X).__module__.split(".")[0]
    if module == "pandas":
        return _from_pandas(X, name)
    if module == "polars":
        return from_arrow(X.to_arrow(), name)
    if module == "pyarrow":
        return from_arrow(X, name)
    raise TypeError(f"{name} must be a DataFrame or table with column names, got {type(X).__name__}")


def _from_pandas(df, name):
    if not hasattr(df, "columns") or getattr(df, "ndim", 2) != 2:
        raise TypeError(f"{name} must be a DataFrame (2-D, with column names), got {type(df).__name__}")
    names, columns = [], []
    for key in df.columns:
        s = df[key]
        names.append(str(key))
        kind = getattr(s.dtype, "kind", "O")
        if kind in "biuf":
            columns.append(s.to_numpy(dtype=np.float64, na_value=np.nan))
        elif kind in "mM":
            raise TypeError(f"{name}: column {str(key)!r} holds dates or durations ({s.dtype}); convert it to numbers")
        else:
            values = s.to_numpy(dtype=object)
            missing = s.isna().to_numpy()
            columns.append(np.asarray([None if gone else str(v) for v, gone in zip(values, missing)], dtype=object))
    return Table(names, columns)


def from_arrow(table, name="X"):
    """A pyarrow Table as a :class:`Table`: integer, floating and boolean columns as float64 (null →
    NaN), string and dictionary columns as text (null → None); anything else is a TypeError naming it."""
    import pyarrow as pa

    names, columns = [], []
    for key, col in zip(table.column_names, table.columns):
        t = col.type
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_null(t):
            columns.append(column_values(col))
        elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
            columns.append(np.asarray(col.cast(pa.string()).to_pylist() if pa.types.is_dictionary(t)
                                      else col.to_pylist(), dtype=object))
        else:
            raise TypeError(f"{name}: column {key!r} has type {t}; bpx reads numbers, booleans and text")
        names.append(str(key))
    return Table(names, columns)


def _text_cells(column):
    """A column's cells as text: str for each value, None for a missing one (NaN in a numeric column)."""
    if column.dtype == object:
        return column
    return np.asarray([None if math.isnan(v) else f"{v:g}" for v in column], dtype=object)


class TablePreprocessor:
    """The host-side preprocessing a model carries: columns by name, median / ``"(missing)"``
    imputation, one-hot text columns, scaling of the numeric columns (see the module docstring).

    Parameters
    ----------
    scale : str, default "auto"
        The numeric columns' scaling: ``"auto"`` (:func:`bpx.data.choose_scaling`), ``"none"``,
        ``"255"``, ``"max"`` or ``"standardize"``.
    missing : {"impute", "error"}, default "impute"
        What a missing cell gets: the column's training median (numbers) or the ``"(missing)"``
        category (text); or a ValueError naming its row and column.
    max_categories : int, default 50
        One-hot columns per text column at most (the rarest categories share ``"(other)"``).

    Attributes
    ----------
    feature_names : list of str or None
        After :meth:`fit`: the table's feature columns in training order (None when fitted on an unnamed
        array).
    columns : list of dict
        Per column, a number column's name, type and median, or a text column's name, type, categories
        and whether it has an ``"(other)"`` bucket.
    scaler : bpx.data.Scaler
        The numeric block's scaling.
    scaling_reason : str
        Why that scaling (``bpx train`` prints it).
    filled : list of dict
        What :meth:`fit` filled in: ``{"column", "cells", "value"}`` per column with missing cells."""

    def __init__(self, scale="auto", missing="impute", max_categories=MAX_CATEGORIES):
        if scale not in ("auto", "none", "255", "max", "standardize"):
            raise ValueError(f"scale must be 'auto', 'none', '255', 'max' or 'standardize', got {scale!r}")
        if missing not in MISSING_POLICIES:
            raise ValueError(f"missing must be 'impute' or 'error', got {missing!r}")
        if isinstance(max_categories, bool) or not isinstance(max_categories, int) or max_categories < 2:
            raise ValueError(f"max_categories must be an integer >= 2, got {max_categories!r}")
        self.scale, self.missing, self.max_categories = scale, missing, max_categories
        self.feature_names, self.columns, self.scaler, self.scaling_reason, self.filled = None, None, None, None, []

    def __repr__(self):
        return (f"TablePreprocessor(scale={self.scale!r}, missing={self.missing!r}, "
                f"max_categories={self.max_categories})")

    # -- what it was fitted on ----------------------------------------------------------------------
    @property
    def fitted(self):
        return self.columns is not None

    @property
    def n_features_in(self):
        return len(self.columns)

    @property
    def numeric(self):
        return [c for c in self.columns if c["type"] == "number"]

    @property
    def text(self):
        return [c for c in self.columns if c["type"] == "text"]

    @property
    def output_names(self):
        """The names of the encoded matrix's columns: the numeric columns, then ``"column=category"``."""
        return [c["name"] for c in self.numeric] + [f"{c['name']}={v}" for c in self.text for v in c["categories"]]

    @property
    def n_features_out(self):
        return len(self.numeric) + sum(len(c["categories"]) for c in self.text)

    # -- fit / transform ------------------------------------------------------------------------------
    def fit(self, X, name="X"):
        """Learn the columns, medians, categories and scaling from the training table ``X`` (a Table, a
        DataFrame, a pyarrow Table, or a 2-D numeric array whose columns are then unnamed).

        Returns
        -------
        TablePreprocessor
            self."""
        table, named = self._as_table(X, name)
        if len(table) == 0:
            raise ValueError(f"{name} has 0 rows")
        if self.missing == "error":
            _refuse_missing(table, name)
        columns, filled = [], []
        for col_name in table.names:
            col = table.column(col_name)
            if col.dtype != object:
                present = col[~np.isnan(col)]
                if np.any(np.isinf(present)):
                    raise ValueError(f"{name}: column {col_name!r} holds an infinite value")
                median = float(np.median(present)) if present.size else 0.0
                columns.append({"name": col_name, "type": "number", "median": median})
                if present.size < col.size:
                    filled.append({"column": col_name, "cells": int(col.size - present.size), "value": median})
            else:
                counts = Counter(MISSING if v is None else v for v in col)
                columns.append(_text_column(col_name, counts, self.max_categories))
                if counts.get(MISSING):
                    filled.append({"column": col_name, "cells": counts[MISSING], "value": MISSING})
        self.feature_names = table.names if named else None
        self.columns, self.filled = columns, filled
        block = self._numeric_block(table, name)
        method, reason = self.scale, "--scale"
        if method == "auto":
            method, reason = choose_scaling(block) if block.shape[1] else ("none", "no numeric columns")
        self.scaler = Scaler(method).fit(block) if block.shape[1] else Scaler("none")
        self.scaling_reason = reason
        return self

    @classmethod
    def from_statistics(cls, names, statistics, scale="auto", missing="impute", max_categories=MAX_CATEGORIES):
        """The preprocessor :meth:`fit` would learn from a table, built from the table's statistics
        instead of its rows: the lazy (Dask) path computes them with dask reductions over a table too
        big for the host (:func:`bpx.data._dask_table.fit_table`), and the encoding is then this
        object's :meth:`transform`, applied chunk by chunk.

        Parameters
        ----------
        names : list of str
            The feature columns, in table order.
        statistics : list of dict
            Per column, in ``names`` order: for a number column, ``type`` ``"number"``, ``missing``
            (its empty cells), ``median`` (of its present cells; 0.0 when none) and ``min``, ``max``,
            ``mean``, ``std`` (of the column after imputation); for a text column, ``type`` ``"text"``
            and ``counts`` (cells per category, the missing ones under ``"(missing)"``).
        scale, missing, max_categories
            As for the constructor.

        Returns
        -------
        TablePreprocessor
            Fitted, with ``feature_names`` = ``names``."""
        pre = cls(scale, missing, max_categories)
        if len(names) != len(statistics) or not names:
            raise ValueError(f"from_statistics takes one statistics dict per column, got {len(statistics)} for "
                             f"{len(names)} column(s)")
        columns, filled, lo, hi, mean, std = [], [], [], [], [], []
        for col_name, stats in zip(names, statistics):
            gone = stats["missing"] if stats["type"] == "number" else stats["counts"].get(MISSING, 0)
            if gone and missing == "error":
                raise ValueError(f"column {col_name!r}: {gone} empty cell(s) (missing='error')")
            if stats["type"] == "number":
                median = float(stats["median"])
                columns.append({"name": col_name, "type": "number", "median": median})
                if gone:
                    filled.append({"column": col_name, "cells": int(gone), "value": median})
                lo.append(stats["min"])
                hi.append(stats["max"])
                mean.append(stats["mean"])
                std.append(stats["std"])
            else:
                counts = {str(k): int(v) for k, v in stats["counts"].items() if v}
                columns.append(_text_column(col_name, counts, max_categories))
                if gone:
                    filled.append({"column": col_name, "cells": int(gone), "value": MISSING})
        pre.feature_names, pre.columns, pre.filled = list(names), columns, filled
        method, reason = scale, "--scale"
        if method == "auto":  # choose_scaling looks at the block's minimum and column maxima only
            method, reason = choose_scaling(np.array([lo, hi])) if lo else ("none", "no numeric columns")
        scaler = Scaler(method if lo else "none")
        if lo:
            scaler.n_features = len(lo)
            if scaler.method == "max":
                top = float(np.max(np.abs([lo, hi])))
                scaler.scale = top if top > 0 else 1.0
            elif scaler.method == "standardize":
                scaler.mean, scaler.scale = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
                scaler.scale = np.where(scaler.scale > 0, scaler.scale, 1.0)
        pre.scaler, pre.scaling_reason = scaler, reason
        return pre

    def transform(self, X, name="X"):
        """The table ``X`` as the float64 (m, n_features_out) matrix the network takes. A named table
        is matched by column name; an unnamed array must have the training columns, in order.

        Raises
        ------
        ValueError
            A missing, renamed or extra column (named), a wrong column count (both counts), text in a
            numeric column, or a missing cell under ``missing="error"`` (row and column)."""
        if not self.fitted:
            raise ValueError("the TablePreprocessor is not fitted: call fit(X_train) first")
        table = self._match(*self._as_table(X, name), name)
        if self.missing == "error":
            _refuse_missing(table, name)
        numeric = self.scaler.transform(self._numeric_block(table, name)) if self.numeric else np.zeros((len(table), 0))
        blocks = [numeric]
        for spec in self.text:
            blocks.append(_one_hot(table.column(spec["name"]), spec))
        return blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=1)

    def fit_transform(self, X, name="X"):
        return self.fit(X, name).transform(X, name)

    def _as_table(self, X, name):
        """``(Table, named)``: a DataFrame/Table as it is, a 2-D host array as unnamed numeric columns."""
        if is_frame(X):
            return as_table(X, name), True
        A = np.asarray(X)
        if A.ndim != 2:
            raise ValueError(f"{name} must be 2-D (samples, features) or a table with column names, got shape {A.shape}")
        if A.dtype.kind == "b":
            A = A.astype(np.float64)
        if A.dtype.kind not in "iuf":
            raise TypeError(f"{name} must hold numbers (a DataFrame for text columns), got dtype {A.dtype}")
        return Table([f"x{j}" for j in range(A.shape[1])], [A[:, j].astype(np.float64) for j in range(A.shape[1])]), False

    def _match(self, table, named, name):
        """The table's columns in training order: a named table matched by name, an unnamed one by
        position; or the error that names the misfit (or gives both counts)."""
        n_in, expected = self.n_features_in, [c["name"] for c in self.columns]
        if not named or self.feature_names is None:
            if table.shape[1] != n_in:
                listing = f": {', '.join(self.feature_names)}" if self.feature_names else ""
                raise ValueError(f"{name} has {table.shape[1]} columns per sample, but the model takes {n_in} feature "
                                 f"columns{listing}")
            return Table(expected, table.columns)
        if table.names == expected:
            return table
        missing = [n for n in expected if n not in table.names]
        extra = [n for n in table.names if n not in expected]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"no column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
            if extra:
                parts.append(f"the column{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))} the model was "
                             f"not trained on")
            raise ValueError(f"{name} has {' and '.join(parts)} ({table.shape[1]} columns; the model takes "
                             f"{n_in}: {', '.join(expected)})")
        return Table(expected, [table.column(n) for n in expected])

    def _numeric_block(self, table, name):
        specs = [c for c in self.columns if c["type"] == "number"]
        X = np.empty((len(table), len(specs)))
        for j, spec in enumerate(specs):
            col = table.column(spec["name"])
            if col.dtype == object:
                bad = next(((i, v) for i, v in enumerate(col) if v is not None and not _is_number(v)), None)
                if bad is not None:
                    raise ValueError(f"{name}: column {spec['name']!r} held numbers in training, but row {bad[0] + 1} "
                                     f"holds text {bad[1]!r}")
                col = np.asarray([np.nan if v is None else float(v) for v in col])
            X[:, j] = col
            gone = np.isnan(X[:, j])
            if gone.any():
                X[gone, j] = spec["median"]
        if not np.all(np.isfinite(X)):
            i, j = np.argwhere(~np.isfinite(X))[0]
            raise ValueError(f"{name}: row {i + 1}, column {specs[j]['name']!r}: infinite value")
        return X

    # -- JSON ---------------------------------------------------------------------------------------------
    def to_dict(self):
        """Plain JSON (no pickle): what the model file stores as ``metadata["preprocessing"]``."""
        return {"feature_names": self.feature_names, "columns": self.columns, "scaling": self.scaler.to_dict(),
                "scaling_reason": self.scaling_reason, "missing": self.missing,
                "max_categories": self.max_categories, "filled": self.filled}

    @classmethod
    def from_dict(cls, d):
        """The preprocessor :meth:`to_dict` described; also a model file written before tables were
        preprocessed (``{"scaling", "feature_names", ...}``: numeric columns, no imputation)."""
        if not isinstance(d, dict) or not isinstance(d.get("scaling"), dict):
            raise ValueError(f"a model's preprocessing must be a dict with a 'scaling', got {d!r}")
        scaler = Scaler.from_dict(d["scaling"])
        names = d.get("feature_names")
        columns = d.get("columns")
        old = columns is None
        pre = cls(missing=d.get("missing", "error" if old else "impute"), max_categories=d.get("max_categories",
                                                                                               MAX_CATEGORIES))
        if old:  # before tables: every column a number, missing cells refused
            n = scaler.n_features if scaler.n_features is not None else (len(names) if names else None)
            if n is None:
                raise ValueError("an old model's preprocessing without n_features or feature_names")
            names = names if names and len(names) == n else None
            columns = [{"name": names[j] if names else f"x{j}", "type": "number", "median": 0.0} for j in range(n)]
        if not isinstance(columns, list) or not all(isinstance(c, dict) and c.get("type") in ("number", "text")
                                                    and isinstance(c.get("name"), str) for c in columns):
            raise ValueError(f"malformed preprocessing columns {columns!r}")
        if names is not None and names != [c["name"] for c in columns]:
            raise ValueError(f"the preprocessing's feature_names {names!r} differ from its columns")
        pre.feature_names, pre.columns, pre.scaler = names, columns, scaler
        pre.scale, pre.scaling_reason, pre.filled = scaler.method, d.get("scaling_reason"), d.get("filled", [])
        return pre

    @classmethod
    def for_scaler(cls, scaler, feature_names=None, reason=None):
        """The preprocessing of numeric columns scaled by the fitted ``scaler`` (the lazy path fits it
        on dask arrays); missing cells refused, columns named ``feature_names`` where given."""
        n = scaler.n_features
        names = list(feature_names) if feature_names is not None and len(feature_names) == n else None
        pre = cls(missing="error")
        pre.feature_names, pre.scaler, pre.scale, pre.scaling_reason = names, scaler, scaler.method, reason
        pre.columns = [{"name": names[j] if names else f"x{j}", "type": "number", "median": 0.0} for j in range(n)]
        return pre

    @classmethod
    def of(cls, net):
        """The preprocessing ``net`` carries (``net.metadata["preprocessing"]``), or None."""
        meta = net.metadata.get("preprocessing") if isinstance(net.metadata, dict) else None
        return cls.from_dict(meta) if isinstance(meta, dict) and isinstance(meta.get("scaling"), dict) else None

    def describe_filled(self):
        """The imputation in words (``bpx train`` prints it): which columns, how many cells, what value."""
        if not self.filled:
            return "no missing cells"
        parts = [f"{f['column']} {f['cells']} cell{'s' if f['cells'] != 1 else ''} -> "
                 + (f"{f['value']!s}" if isinstance(f["value"], str) else f"median {f['value']:g}") for f in self.filled]
        return f"filled {sum(f['cells'] for f in self.filled)} missing cells: " + "; ".join(parts)


def _text_column(name, counts, max_categories):
    """A text column's spec from its category counts (``MISSING`` counted as a category): the
    ``max_categories - 1`` most frequent and ``"(other)"`` beyond the cap, sorted by name."""
    kept = sorted(counts, key=lambda v: (-counts[v], v))
    other = len(kept) > max_categories
    if other:
        kept = kept[:max_categories - 1]
    return {"name": name, "type": "text", "categories": sorted(kept) + ([OTHER] if other else []), "other": other}


def _is_number(v):
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def _one_hot(column, spec):
    """A text column as one-hot rows over ``spec["categories"]``; an unseen category is all zeros."""
    categories = spec["categories"]
    index = {c: j for j, c in enumerate(categories)}
    other = index.get(OTHER) if spec.get("other") else None
    out = np.zeros((len(column), len(categories)))
    for i, v in enumerate(_text_cells(column)):
        key = MISSING if v is None else v
        j = index.get(key, other)  # beyond the cap: "(other)"; without a cap, unseen: all zeros
        if j is not None:
            out[i, j] = 1.0
    return out


def missing_rows(column):
    """The row indices of a column's missing cells (NaN, or None in a text column)."""
    if column.dtype != object:
        return np.flatnonzero(np.isnan(column))
    return np.flatnonzero(np.asarray([v is None for v in column], dtype=bool))


def _refuse_missing(table, name):
    for col_name in table.names:
        gone = missing_rows(table.column(col_name))
        if gone.size:
            raise ValueError(f"{name}: row {int(gone[0]) + 1}, column {col_name!r}: empty cell (missing='error')")
