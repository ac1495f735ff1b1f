"""The :class:`Dataset` record and the naming rules every loader shares (host side, NumPy).

:mod:`bpx.datasets` (files read into memory) and :mod:`bpx.dask_data` (files opened lazily) both build
a ``Dataset`` and find the label array or column by the same rules, so both import them from here
and neither imports the other's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LABEL_NAMES = ("label", "labels", "y", "target", "class")


@dataclass
class Dataset:
    """``X`` (m, n) float64; ``y`` labels (m,) or targets (m, k) or None; ``classes``: class names
    when the file declares them (then ``y`` holds indices into them), else None; ``path``.

    Parameters
    ----------
    X : numpy.ndarray
        (m, n) float64 features.
    y : numpy.ndarray, optional
        Labels (m,) or targets (m, k); None for data to predict on.
    classes : list of str, optional
        Class names, when the file declares them.
    path : str, optional
        The file it was read from.
    feature_names : list of str, optional
        Column names (CSV header, or the bundled digits' pixel names).
    label_column : str, optional
        The name of the label column.
    table : bpx.data.Table, optional
        The feature columns by name, text and missing cells kept (``load(..., tabular=True)``); X is
        then None when a column holds text or a cell is missing."""

    X: np.ndarray
    y: np.ndarray | None = None
    classes: list | None = None
    path: str | None = None
    feature_names: list | None = field(default=None, repr=False)
    label_column: str | None = None
    table: object = field(default=None, repr=False)
    lines: list | None = field(default=None, repr=False)

    def where(self, i):
        """Sample ``i`` as messages name it: ``row N`` of a CSV file (its line, the header being row 1),
        else ``sample i+1``."""
        return f"row {self.lines[i]}" if self.lines is not None else f"sample {i + 1}"

    def __len__(self):
        return (self.X if self.X is not None else self.table).shape[0]

    @property
    def n_features(self):
        return (self.X if self.X is not None else self.table).shape[1]


def default_key(names, candidates):
    lower = {n.lower(): n for n in names}
    for c in candidates:
        if c in lower:
            return lower[c]
    return None


def label_index(path, header, label_column, n_features, default_label_column=None):
    if label_column is not None:
        if isinstance(label_column, int) or (isinstance(label_column, str) and label_column.isdigit()
                                             and label_column not in header):
            j = int(label_column)
            if not 1 <= j <= len(header):
                raise ValueError(f"{path}: label column {j} does not exist; the file has {len(header)} columns")
            return j - 1
        if label_column not in header:
            raise ValueError(f"{path}: no column named {label_column!r}; the columns are {', '.join(header)}")
        return header.index(label_column)
    if default_label_column is not None and default_label_column in header:
        return header.index(default_label_column)
    lower = [h.lower() for h in header]
    for name in LABEL_NAMES:
        if name in lower:
            return lower.index(name)
    if n_features is not None and len(header) == n_features:
        return None  # features only: data to predict on
    return len(header) - 1
