"""Data on the host: loaders for files in common formats (public as :mod:`bpx.datasets`, their one
documented path, docs/development/architecture.md), the adapter
that turns what a user passes into the checked array a model computes on, host-side preprocessing
(tables with named, text and missing columns; scaling, labels, splits) and regression metrics. Dask
arrays live in :mod:`bpx.distributed`."""

from ._adapter import as_matrix
from ._metrics import regression_metrics
from ._preprocessing import LabelEncoder, Scaler, choose_scaling
from ._table import Table, TablePreprocessor

__all__ = ["LabelEncoder", "Scaler", "Table", "TablePreprocessor", "as_matrix", "choose_scaling", "regression_metrics"]
