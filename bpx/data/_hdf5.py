"""HDF5 files, opened and checked one way for the host loader (:func:`bpx.datasets.load`) and the lazy
Dask opener (:func:`bpx.datasets.open_dask`, ``bpx train --backend dask``) alike.

An HDF5 file can make a reader read other files: a dataset's raw data may live in external files
(``external=``, any file on disk, read as if it were the dataset), a virtual dataset maps the datasets
of other files, and a soft or external link names another object or another file. bpx reads data
stored in the file it was given only: :func:`dataset_names` lists the datasets reached by hard links,
and :func:`stored_dataset` refuses external storage, virtual datasets and links before anything is
read (the lazy reader checks again in each task that reads a block, so a file changed after it was
opened is refused too). Host-side data code (docs/development/architecture.md, "Layers").
"""

from __future__ import annotations

from ..utils._extras import install_hint
from ..utils._paths import regular_file_problem


def open_h5(path):
    """``path`` opened read-only with h5py (a context manager): a ``ValueError`` naming the file when it
    is not a regular file or not an HDF5 file, an ``ImportError`` with the install hint without h5py."""
    try:
        import h5py  # optional dependency: the data extra
    except ImportError:
        raise ImportError(f"{path}: reading HDF5 files needs h5py: {install_hint('data')}") from None
    problem = regular_file_problem(path)
    if problem is not None:
        raise ValueError(f"{path}: {problem}")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path}: not a readable HDF5 file ({exc})") from None


def dataset_names(f):
    """The names of the file's top-level datasets reached by hard links (soft and external links are not
    followed, so a dataset behind one is not among them)."""
    import h5py

    return [k for k in f.keys() if isinstance(f.get(k, getlink=True), h5py.HardLink) and isinstance(f[k], h5py.Dataset)]


def stored_dataset(path, f, name):
    """Dataset ``name`` of the open file ``f``, once it is known to keep its data in the file: a
    ``ValueError`` naming the file and the dataset for a soft or external link, external raw storage,
    a virtual dataset or a dataset without a shape. Its values are not read."""
    import h5py

    link = f.get(name, getlink=True)
    if link is None:
        raise ValueError(f"{path}: no dataset {name!r}")
    if not isinstance(link, h5py.HardLink):
        kind = "an external link (to another file)" if isinstance(link, h5py.ExternalLink) else "a soft link"
        raise ValueError(f"{path}: {name!r} is {kind}, not a dataset stored in the file; bpx reads data stored in "
                         f"the file only")
    ds = f[name]
    if not isinstance(ds, h5py.Dataset):
        raise ValueError(f"{path}: {name!r} is a group, not a dataset")
    if ds.external:
        raise ValueError(f"{path}: dataset {name!r} keeps its data in external file(s) "
                         f"({', '.join(str(e[0]) for e in ds.external)[:200]}); bpx reads data stored in the file only")
    if ds.is_virtual:
        raise ValueError(f"{path}: dataset {name!r} is a virtual dataset (its data live in other files); bpx reads "
                         f"data stored in the file only")
    if ds.shape is None:
        raise ValueError(f"{path}: dataset {name!r} is empty (no shape)")
    return ds
