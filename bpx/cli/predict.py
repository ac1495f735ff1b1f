"""``bpx predict``: a saved model's predictions for a data file, as CSV (stdout or file) or .npy.

The model's stored preprocessing (a :class:`bpx.data.TablePreprocessor`: columns by name, imputation,
one-hot text columns, scaling) is applied by the model itself, as ``bpx.load(...).predict(table)`` does;
the stored label column is left out. Classifiers write class
names (``--proba``: one probability column per class); regressors write the output values. With
``--backend dask`` the data are opened lazily and predicted chunk by chunk on a cluster
(:mod:`bpx.cli.predict_dask`).
"""

from __future__ import annotations

import os
import sys

from bpx.cli import predict_dask
from bpx.cli.args import backend_spec, existing_data, existing_file, output_path, refuse_overwrite
from bpx.cli.predictions import table, wants_proba, write_rows
from bpx.cli.train import add_data_options
from bpx.cli.train_dask import add_dask_options


def add_parser(subparsers):
    p = subparsers.add_parser("predict", help="predict with a saved model",
                              description="Predictions of a saved model for a data file (a label column, if "
                                          "present, is ignored).")
    p.add_argument("--model", type=existing_file, required=True, help="model file written by bpx train / bpx.save")
    p.add_argument("--data", type=existing_data, required=True, metavar="FILE",
                   help="data: .csv, .parquet, .npz, .npy (X only), .h5 or IDX; with --backend dask also a zarr store or a "
                        "directory/glob of .npy/.npz shards, read lazily chunk by chunk")
    p.add_argument("--out", type=output_path, metavar="FILE", help="write to FILE (.csv or .npy) instead of stdout")
    p.add_argument("--proba", action="store_true", help="class probabilities instead of class names")
    p.add_argument("--backend", type=backend_spec, help="default $BPX_BACKEND, else auto")
    add_data_options(p)
    add_dask_options(p, training=False)
    p.set_defaults(run=run, parser=p)


def load_for_model(net, args, require_labels):
    """``(dataset, raw)``: the data file read with the model's stored label column, and its features as
    the model takes them (a :class:`bpx.data.Table` for CSV/Parquet, matched by name; else the array)."""
    from bpx import datasets
    from bpx.data import TablePreprocessor
    from bpx.data._preprocessing import describe

    stored = describe(net).get("label_column")
    pre = TablePreprocessor.of(net)
    label_column = args.label_column
    ds = datasets.load(args.data, label_column=label_column, x_key=args.x_key, y_key=args.y_key, labels=args.labels,
                       require_labels=require_labels, n_features=net.n_features if pre is None else pre.n_features_in,
                       default_label_column=stored if label_column is None else None, tabular=True)
    return ds, (ds.table if ds.table is not None and pre is not None and pre.feature_names else ds.X)


def run(args):
    import bpx

    if args.out and os.path.splitext(args.out)[1].lower() not in (".csv", ".npy"):
        args.parser.error(f"argument --out: expected a .csv or .npy file name, got {args.out!r}")
    refuse_overwrite(args.parser, {"--out": args.out},
                     {"--model": args.model, "--data": args.data, "--labels": args.labels})
    if predict_dask.lazy(args):  # --backend dask: lazily, chunk by chunk, on a cluster
        return predict_dask.predict(args, table)
    predict_dask.check_eager(args)
    net = bpx.load(args.model, backend=args.backend)
    if args.proba and not net.is_classifier:
        raise ValueError(f"--proba needs a classifier; {args.model} has a {net.output!r} output")
    ds, X = load_for_model(net, args, require_labels=False)  # the model applies its preprocessing
    header, values = table(net, args.proba, bpx.to_numpy(net.predict_proba(X) if wants_proba(net, args.proba)
                                                         else net.predict(X)))
    if args.out and args.out.lower().endswith(".npy"):
        _save_npy(args.out, values)
        print(f"wrote {len(values)} predictions to {args.out}", file=sys.stderr)
        return 0
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w", newline="") as f:
            write_rows(f, header, values)
        os.replace(tmp, args.out)
        print(f"wrote {len(values)} predictions to {args.out}", file=sys.stderr)
        return 0
    write_rows(sys.stdout, header, values)
    return 0


def _save_npy(path, values):
    import numpy as np

    tmp = path + ".tmp.npy"
    np.save(tmp, values, allow_pickle=False)
    os.replace(tmp, path)
