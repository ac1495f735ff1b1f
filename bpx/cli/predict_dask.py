"""What ``bpx predict`` and ``bpx evaluate`` do on a lazy backend (``--backend dask``): the inputs
``bpx train`` takes there (a zarr store, HDF5, CSV, a directory or glob of .npy/.npz shards) opened
lazily with :func:`bpx.datasets.open_dask`, through the same cluster options (``--scheduler``,
``--workers``, ``--threads``, ``--chunks``, ``--connect-timeout``; :mod:`bpx.cli.train_dask`).

X is never read whole: it is scaled as at training time chunk by chunk, ``predict`` computes a few
row chunks at a time (one per worker thread) and writes each chunk's rows as they come (CSV on stdout
or in a file, or a ``.npy`` file filled in place); ``evaluate`` sums the loss per chunk, and only one
number per sample (the labels, the predicted classes or values) comes to the host.
"""

from __future__ import annotations

import os
import sys

from bpx.cli.args import existing_file


def lazy(args):
    """Whether the command runs the Dask path (``--backend dask``, or ``$BPX_BACKEND=dask`` without one)."""
    from bpx.backends._backend import get_backend
    from bpx.backends._fastest import is_fastest

    return not is_fastest(args.backend) and get_backend(args.backend).library.lazy


def check_eager(args):
    """On an eager backend: the dask options refused, and --data/--labels must be files (usage errors)."""
    import argparse

    from bpx.cli.train_dask import dask_options_given

    given = dask_options_given(args)
    if given:
        args.parser.error(f"argument {given[0]}: applies to --backend dask only")
    for option in ("--data", "--test-data", "--labels"):
        value = getattr(args, option[2:].replace("-", "_"), None)
        if value is not None:  # directories and globs are for --backend dask (lazy stores and shards)
            try:
                existing_file(value)
            except argparse.ArgumentTypeError as exc:
                args.parser.error(f"argument {option}: {exc}")


def _opened(net, args, require_labels):
    """``args.data`` opened lazily as the model's data: its stored label column, its width, its scaling
    (X scaled lazily); y (if any) as host labels. A CSV or Parquet table, for a model that knows its
    feature names, is matched by column name and encoded by the model's preprocessing chunk by chunk
    (text columns, missing cells: :class:`bpx.data._dask_table.DaskTable`)."""
    import numpy as np

    import bpx.data._dask_arrays as bd
    from bpx.cli.train_dask import scaled
    from bpx.data._dask_data import open_dask
    from bpx.data._dask_table import is_table_file, open_table
    from bpx.data._preprocessing import Scaler, describe
    from bpx.data._table import TablePreprocessor

    stored = describe(net).get("label_column")
    pre = TablePreprocessor.of(net)
    if pre is not None and pre.feature_names and is_table_file(args.data):  # a table: columns by name, encoded
        ds = open_table(args.data, label_column=args.label_column, chunks=args.chunks, n_features=pre.n_features_in,
                        default_label_column=stored if args.label_column is None else None)
        if require_labels and ds.y is None:
            raise ValueError(f"{ds.path}: the table has no label column; evaluation needs one")
        ds.X = ds.table.encode(pre, "float64")
        return ds
    ds = open_dask(args.data, x_key=args.x_key, y_key=args.y_key, label_column=args.label_column, chunks=args.chunks,
                   labels=args.labels, n_features=net.n_features,
                   default_label_column=stored if args.label_column is None else None)
    if ds.X.shape[1] != net.n_features:
        raise ValueError(f"the data has {ds.X.shape[1]} features per sample, but the model expects {net.n_features}")
    if require_labels and ds.y is None:
        raise ValueError(f"{ds.path}: the data holds no labels (y); evaluation needs them (.npy shards: X_<name>.npy "
                         f"with y_<name>.npy, or --labels GLOB)")
    scaling = describe(net).get("scaling")
    ds.X = bd.as_dask(ds.X).astype(np.float64) if scaling is None else scaled(Scaler.from_dict(scaling), ds.X)
    if require_labels:
        ds.y = np.asarray(ds.y.compute() if bd.is_dask(ds.y) else ds.y)
    return ds


def _say(*parts):
    print(*parts, file=sys.stderr)


def predict(args, table):
    """``bpx predict --backend dask``: ``table(net, proba, output)`` turns each block's host output into the
    rows written (:func:`bpx.cli.predictions.table`); returns the exit status."""
    import dask

    import bpx
    import bpx.data._dask_arrays as bd
    from bpx.cli.predictions import wants_proba
    from bpx.cli.train_dask import check, cluster

    check(args, args.parser.error)
    net = bpx.load(args.model, backend=args.backend)
    if args.proba and not net.is_classifier:
        raise ValueError(f"--proba needs a classifier; {args.model} has a {net.output!r} output")
    with cluster(args, _say, lambda: _opened(net, args, require_labels=False)) as ds:
        output = net.predict_proba(ds.X) if wants_proba(net, args.proba) else net.predict(ds.X)
        blocks = [output.blocks[i] for i in range(output.numblocks[0])]
        at_once = max(1, sum(bd.client().nthreads().values()))  # one block per worker thread in memory at once
        with _Writer(args.out, net, len(ds)) as writer:
            for start in range(0, len(blocks), at_once):
                for values in dask.compute(*blocks[start:start + at_once]):
                    writer.write(*table(net, args.proba, values))
    if args.out:
        print(f"wrote {len(ds)} predictions to {args.out}", file=sys.stderr)
    return 0


def evaluate(args, show):
    """``bpx evaluate --backend dask``: ``show(args, net, ds, X, Y)`` (:func:`bpx.cli.evaluate.show`) with X
    lazy; returns its exit status."""
    import bpx
    from bpx.cli.train_dask import check, cluster
    from bpx.data._preprocessing import model_targets

    check(args, args.parser.error)
    net = bpx.load(args.model, backend=args.backend)
    with cluster(args, _say, lambda: _opened(net, args, require_labels=True)) as ds:
        Y = model_targets(net, ds.y, ds.classes, what=f"{ds.path}: labels")
        return show(args, net, ds, ds.X, Y)


class _Writer:
    """Predictions written block by block: CSV to stdout, a CSV file, or a ``.npy`` file of ``m`` rows filled
    in place (each file written to a temporary name and renamed at the end)."""

    def __init__(self, out, net, m):
        self.out, self.net, self.m = out, net, m
        self.npy = bool(out) and out.lower().endswith(".npy")
        self.file = self.array = None
        self.tmp = None if not out else (out + ".tmp.npy" if self.npy else out + ".tmp")
        self.row = 0

    def __enter__(self):
        if self.out and not self.npy:
            self.file = open(self.tmp, "w", newline="")
        elif not self.out:
            self.file = sys.stdout
        return self

    def write(self, header, values):
        import numpy as np

        from bpx.cli.predictions import write_rows

        if self.npy:
            if self.array is None:
                dtype = values.dtype
                if dtype.kind == "U":  # class names: wide enough for every class
                    dtype = np.asarray([str(c) for c in self.net.classes]).dtype
                self.array = np.lib.format.open_memmap(self.tmp, mode="w+", dtype=dtype,
                                                       shape=(self.m,) + values.shape[1:])
            self.array[self.row:self.row + len(values)] = values
        else:
            write_rows(self.file, header if self.row == 0 else None, values)
        self.row += len(values)

    def __exit__(self, kind, exc, tb):
        if self.npy and self.array is not None:
            self.array.flush()
            del self.array
        elif self.file is not None and self.file is not sys.stdout:
            self.file.close()
        if self.tmp and os.path.exists(self.tmp):
            if kind is None:
                os.replace(self.tmp, self.out)
            else:
                os.remove(self.tmp)
        return False
