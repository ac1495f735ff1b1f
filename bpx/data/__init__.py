"""Data on the host: loaders for files in common formats (public as :mod:`bpx.datasets`), the adapter
that turns what a user passes into the checked array a model computes on, host-side preprocessing
(tables with named, text and missing columns; scaling, labels, splits) and regression metrics. Dask
arrays live in :mod:`bpx.distributed`."""

from ._adapter import as_matrix
from ._datasets import load, load_digits, open_dask
from ._layout import Dataset
from ._metrics import regression_metrics
from ._preprocessing import LabelEncoder, Scaler, choose_scaling
from ._table import Table, TablePreprocessor

__all__ = ["Dataset", "LabelEncoder", "Scaler", "Table", "TablePreprocessor", "as_matrix", "choose_scaling", "load",
           "load_digits", "open_dask", "regression_metrics"]
