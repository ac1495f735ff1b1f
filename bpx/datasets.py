"""Data loaders (host side, NumPy): the bundled 8x8 digits and files in common formats (.npz, .npy,
CSV/TSV, HDF5, IDX), read into a :class:`Dataset`; :func:`open_dask` opens them lazily for Dask."""

from .data._datasets import EXTENSIONS, load, load_digits, open_dask
from .data._layout import LABEL_NAMES, Dataset

__all__ = ["EXTENSIONS", "LABEL_NAMES", "Dataset", "load", "load_digits", "open_dask"]
