"""``bpx predict``: a saved model's predictions for a data file, as CSV (stdout or file) or .npy.

The model's stored preprocessing (a :class:`bpx.data.TablePreprocessor`: columns by name, imputation,
one-hot text columns, scaling) is applied by the model itself, as ``bpx.load(...).predict(table)`` does.
Classifiers write class names (``--proba``: one probability column per class); regressors write the
output values.
"""

from __future__ import annotations

import csv
import os
import sys

from bpx.cli.args import backend_spec, existing_file, output_path
from bpx.cli.train import add_data_options


def add_parser(subparsers):
    p = subparsers.add_parser("predict", help="predict with a saved model",
                              description="Predictions of a saved model for a data file (a label column, if "
                                          "present, is ignored).")
    p.add_argument("--model", type=existing_file, required=True, help="model file written by bpx train / bpx.save")
    p.add_argument("--data", type=existing_file, required=True, metavar="FILE",
                   help="data: .csv, .parquet, .npz, .npy (X only), .h5 or IDX")
    p.add_argument("--out", type=output_path, metavar="FILE", help="write to FILE (.csv or .npy) instead of stdout")
    p.add_argument("--proba", action="store_true", help="class probabilities instead of class names")
    p.add_argument("--backend", type=backend_spec, help="default $BPX_BACKEND, else auto")
    add_data_options(p)
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
    import numpy as np

    import bpx

    if args.out and os.path.splitext(args.out)[1].lower() not in (".csv", ".npy"):
        args.parser.error(f"argument --out: expected a .csv or .npy file name, got {args.out!r}")
    net = bpx.load(args.model, backend=args.backend)
    if args.proba and not net.is_classifier:
        raise ValueError(f"--proba needs a classifier; {args.model} has a {net.output!r} output")
    ds, X = load_for_model(net, args, require_labels=False)  # the model applies its preprocessing
    if args.proba:
        values = bpx.to_numpy(net.predict_proba(X)).astype(np.float64)
        names = list(net.classes) if net.classes else [f"p{j}" for j in range(values.shape[1])]
        if values.shape[1] == 1:  # one sigmoid unit: P(class 1); write both columns
            values = np.concatenate([1.0 - values, values], axis=1)
            names = names if len(names) == 2 else ["p0", "p1"]
        header = names
    elif net.is_classifier and net.classes is not None:
        proba = bpx.to_numpy(net.predict_proba(X))
        index = (proba[:, 0] >= 0.5).astype(np.int64) if net.n_outputs == 1 else proba.argmax(axis=1)
        labels = [net.classes[int(i)] for i in index]
        try:
            values = np.asarray([int(c) for c in labels], dtype=np.int64)
        except ValueError:
            values = np.asarray(labels, dtype=str)
        header = ["prediction"]
    else:
        values = bpx.to_numpy(net.predict(X))
        values = values.reshape(len(values), -1)
        header = ["prediction"] if values.shape[1] == 1 else [f"y{j + 1}" for j in range(values.shape[1])]
    if args.out and args.out.lower().endswith(".npy"):
        _save_npy(args.out, values)
        print(f"wrote {len(values)} predictions to {args.out}", file=sys.stderr)
        return 0
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w", newline="") as f:
            _write_csv(f, header, values)
        os.replace(tmp, args.out)
        print(f"wrote {len(values)} predictions to {args.out}", file=sys.stderr)
        return 0
    _write_csv(sys.stdout, header, values)
    return 0


def _save_npy(path, values):
    import numpy as np

    tmp = path + ".tmp.npy"
    np.save(tmp, values, allow_pickle=False)
    os.replace(tmp, path)


def _write_csv(f, header, values):
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(header)
    rows = values.reshape(len(values), -1)
    for row in rows:
        writer.writerow([_cell(v) for v in row])


def _cell(v):
    if isinstance(v, (float,)) or getattr(v, "dtype", None) is not None and v.dtype.kind == "f":
        return f"{float(v):.8g}"
    return str(v)
