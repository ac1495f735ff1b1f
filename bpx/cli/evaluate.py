"""``bpx evaluate``: a saved model's loss, accuracy and confusion matrix (with class names) on a
labelled data file, after the model's stored preprocessing; for a regression, R², RMSE and MAE. With
``--backend dask`` the data are opened lazily and evaluated chunk by chunk on a cluster
(:mod:`bpx.cli.predict_dask`)."""

from __future__ import annotations

import json

from bpx.cli import predict_dask
from bpx.cli.args import backend_spec, existing_data, existing_file
from bpx.cli.predict import load_for_model
from bpx.cli.train import add_data_options
from bpx.cli.train_dask import add_dask_options


def add_parser(subparsers):
    p = subparsers.add_parser("evaluate", help="loss, accuracy and confusion matrix of a saved model",
                              description="Loss, accuracy and confusion matrix of a saved model on labelled data.")
    p.add_argument("--model", type=existing_file, required=True, help="model file written by bpx train / bpx.save")
    p.add_argument("--data", type=existing_data, required=True, metavar="FILE",
                   help="labelled data: .csv, .npz, .h5 or IDX; with --backend dask also a zarr store or a "
                        "directory/glob of .npy/.npz shards, read lazily chunk by chunk")
    p.add_argument("--backend", type=backend_spec, help="default $BPX_BACKEND, else auto")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_data_options(p)
    add_dask_options(p, training=False)
    p.set_defaults(run=run, parser=p)


def run(args):
    import bpx
    from bpx.data._preprocessing import model_targets

    if predict_dask.lazy(args):  # --backend dask: lazily, chunk by chunk, on a cluster
        return predict_dask.evaluate(args, show)
    predict_dask.check_eager(args)
    net = bpx.load(args.model, backend=args.backend)
    ds, X = load_for_model(net, args, require_labels=True)  # the model applies its preprocessing
    Y = model_targets(net, ds.y, ds.classes, what=f"{ds.path}: labels", where=ds.where)
    return show(args, net, ds, X, Y)


def show(args, net, ds, X, Y):
    """The report of ``net`` on features ``X`` (host or dask) and targets ``Y`` of ``ds``, printed."""
    import numpy as np

    import bpx

    report = {"model": args.model, "data": ds.path, "n_samples": len(ds), **net.evaluate(X, Y)}
    if not net.is_classifier:
        from bpx.data._metrics import regression_metrics

        report.update(regression_metrics(Y, bpx.to_numpy(net.predict(X))))
    if net.is_classifier and (Y.ndim == 1 or net.classes is not None):
        k = max(net.n_outputs, 2)
        classes = list(net.classes) if net.classes else [str(j) for j in range(k)]
        proba = bpx.to_numpy(net.predict_proba(X))
        predicted = (proba[:, 0] >= 0.5).astype(np.int64) if net.n_outputs == 1 else proba.argmax(axis=1)
        truth = Y.astype(np.int64) if Y.ndim == 1 else Y.argmax(axis=1)
        matrix = np.zeros((k, k), dtype=np.int64)
        np.add.at(matrix, (truth, predicted), 1)
        report["n_correct"] = int(np.trace(matrix))
        report["classes"] = classes
        report["confusion_matrix"] = matrix.tolist()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"model     {args.model}")
    print(f"data      {ds.path} ({len(ds)} samples)")
    what = "mse: ½·MSE, half the mean squared error" if net.loss_name == "mse" else net.loss_name
    print(f"loss      {report['loss']:.6g} ({what})")
    if "r2" in report:
        print(f"R²        {report['r2']:.4f}")
        print(f"RMSE      {report['rmse']:.6g}")
        print(f"MAE       {report['mae']:.6g}")
    if "accuracy" in report:
        extra = f" ({report['n_correct']}/{len(ds)})" if "n_correct" in report else ""
        print(f"accuracy  {report['accuracy']:.4f}{extra}")
    if "confusion_matrix" in report:
        print(format_confusion(report["classes"], report["confusion_matrix"]))
    return 0


def format_confusion(classes, matrix):
    """The confusion matrix as text: rows are the true classes, columns the predicted ones."""
    names = [str(c) for c in classes]
    width = max(max(len(n) for n in names), max(len(str(v)) for row in matrix for v in row), 3)
    label = max(len(n) for n in names)
    lines = ["confusion matrix (rows: true class, columns: predicted class)",
             " " * (label + 2) + " ".join(n.rjust(width) for n in names)]
    for name, row in zip(names, matrix):
        lines.append(name.rjust(label) + "  " + " ".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)
