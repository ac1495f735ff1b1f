"""``bpx train``: train a network on a data file (default: the bundled 8x8 digits) and save it.

With no arguments: the digits, the auto backend, a stratified 20% held-out test split, 128 ReLU units,
Adam (lr 0.003) for at most 60 epochs of 32-sample batches, /16 scaling; prints the final test accuracy
and saves ``bpx-model.npz``. By default (``--val-split auto``) 10% of the training rows (stratified by
class for a classification; at random on dask) are held out for validation and training stops after
10 epochs without a better validation loss, keeping the best epoch's weights (scikit-learn's
``MLPClassifier(early_stopping=True)`` defaults: ``validation_fraction=0.1``, ``n_iter_no_change=10``):
128 units for 60 epochs overfit a table of a few thousand rows without it (docs/guide/csv.md has the
measurements). ``--val-split 0`` turns both off, ``--early-stopping 0`` keeps the validation split but
trains every epoch. The task (``--task``, by default inferred from the
targets with :func:`bpx.preprocessing.infer_task`, the rule and its reason printed) decides the output layer:
softmax + cross-entropy for classes, sigmoid + binary cross-entropy for two classes with
``--loss binary_cross_entropy``, identity + mse for numeric targets (reported with R², RMSE and MAE).
``--scale auto`` picks the feature scaling with :func:`bpx.preprocessing.choose_scaling`. A CSV or
Parquet table may hold text columns (one-hot encoded) and missing cells (``--missing impute``, the
default: the median, or a ``"(missing)"`` category; the summary says which columns, how many cells and
what was filled in). All of it is one :class:`bpx.data.TablePreprocessor`, saved with the model
(``net.metadata["preprocessing"]``) with the class names and the label column, so that ``bpx predict``,
``bpx evaluate`` and the loaded model's ``predict``/``evaluate`` apply it.

One command for every engine: with ``--backend dask`` the data stay lazy and the steps run on a
dask.distributed cluster (:mod:`bpx.cli.train_dask`); checkpoints, ``--resume``, ``--log`` and
Ctrl-C/SIGTERM are :mod:`bpx.cli.long_runs` (docs/guide/long-runs.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time

from bpx.cli.args import (
    backend_spec,
    batch_size,
    dropout,
    existing_data,
    existing_file,
    int_list,
    nonnegative_int,
    output_path,
    positive_float,
    positive_int,
    unit_interval,
    unit_interval_or_auto,
)
from bpx.cli.optimizer_options import DEFAULT_LR, OPTIMIZERS, add_optimizer_options, build_optimizer, check_optimizer_options
from bpx.cli.train_dask import add_dask_options, dask_options_given
from bpx.utils._extras import install_hint

from . import long_runs, train_dask

HIDDEN_ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "identity", "gelu", "silu", "softplus", "elu")
OUTPUTS = ("softmax", "sigmoid", "identity")
LOSSES = ("cross_entropy", "binary_cross_entropy", "mse")
SCALINGS = ("auto", "none", "255", "max", "standardize")
MISSING = ("impute", "error")
# --val-split auto: scikit-learn's MLP early-stopping defaults (validation_fraction, n_iter_no_change),
# from this many training rows on (fewer: no validation split and no early stopping)
VAL_SPLIT, PATIENCE, VAL_MIN_ROWS = 0.1, 10, 100


def add_data_options(parser, labels=True):
    """The loader options shared by train, predict and evaluate."""
    parser.add_argument("--x-key", help="the X array/dataset in an .npz or .h5 file (default X, x or *_set_x)")
    parser.add_argument("--y-key", help="the labels array/dataset in an .npz or .h5 file (default y, Y or *_set_y)")
    if labels:
        parser.add_argument("--label-column",
                            help="CSV label column, a name or 1-based number (default: one named label/y/target/class, "
                                 "else the last)")
    parser.add_argument("--labels", type=existing_data, metavar="FILE",
                        help="IDX labels file for an IDX images file (default: the sibling *labels-idx1*); with "
                             "--backend dask and a directory/glob of .npy shards: a directory or glob of .npy label "
                             "shards, one per X shard in file-name order (default: y_<name>.npy beside each "
                             "X_<name>.npy)")


def add_parser(subparsers):
    p = subparsers.add_parser(
        "train", help="train a network on a data file (default: the bundled digits) and save it",
        description="Train a multi-layer perceptron. With no arguments: the bundled 8x8 digits, a 20% "
                    "held-out test split, and a model saved to bpx-model.npz.")
    p.add_argument("--data", type=existing_data, metavar="FILE",
                   help="training data: .csv, .parquet, .npz, .h5/.hdf5 or MNIST IDX (default: the bundled digits); "
                        "with --backend dask also a zarr store or a directory/glob of .npy/.npz shards, opened lazily "
                        "(.npy shards: X_<name>.npy with labels in y_<name>.npy, or --labels GLOB)")
    p.add_argument("--test-data", type=existing_data, metavar="FILE",
                   help="test data (default: hold out --test-split of --data)")
    p.add_argument("--test-split", type=unit_interval, default=0.2, metavar="FRACTION",
                   help="fraction held out for testing when there is no --test-data (stratified by class; "
                        "0: no test set; default 0.2)")
    add_data_options(p)
    p.add_argument("--backend", type=backend_spec, help="numpy, torch, torch:cuda, cupy, array_api_strict, ... "
                                                        "(default $BPX_BACKEND, else auto)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--hidden", type=int_list, default=[128], metavar="N,N,...",
                   help="hidden layer widths (default 128)")
    p.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="relu", help="hidden activation (default relu)")
    p.add_argument("--output", choices=OUTPUTS, help="output activation (default: from the task and the loss)")
    p.add_argument("--loss", choices=LOSSES,
                   help="default: cross_entropy for class labels, mse for numeric targets")
    p.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                   help="auto (default): classes for text labels or at most 20 distinct integers (or integer "
                        "labels 0..k-1 / 1..k), regression for fractional numbers, several target columns or "
                        "many distinct integers; the choice and its reason are printed")
    p.add_argument("--no-bias", action="store_true", help="layers without biases (Z = A @ W, as in the two-layer NumPy networks)")
    p.add_argument("--dropout", type=dropout, default=0.0, metavar="P[,P...]",
                   help="dropout probability while training, for every hidden layer or one per hidden layer "
                        "(default 0)")
    p.add_argument("--init", choices=("lecun", "glorot", "he"),
                   help="weight initializer (default he for relu/leaky_relu, else lecun = randn/sqrt(fan_in))")
    p.add_argument("--init-from", type=existing_file, metavar="MODEL",
                   help="start from the weights of a saved model of the same layer sizes (fine-tuning, or a "
                        "published initialisation) instead of drawing them")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                   help="default adam; lbfgs trains full batch (--batch-size does not apply)")
    p.add_argument("--lr", type=positive_float,
                   help="learning rate (default 0.003 for adam/adamw, 0.01 for sgd/adagrad, 0.001 for rmsprop)")
    p.add_argument("--momentum", type=unit_interval, help="SGD momentum in [0, 1) (default 0)")
    p.add_argument("--epochs", type=positive_int, default=60)
    p.add_argument("--batch-size", type=batch_size, default=32, help="samples per step, or 'full' (default 32)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="weights, shuffling and splits (default 0)")
    p.add_argument("--val-split", type=unit_interval_or_auto, default="auto", metavar="FRACTION|auto",
                   help=f"fraction of the training rows held out for validation, the loss early stopping watches "
                        f"(stratified by class for a classification, at random for a regression or on --backend "
                        f"dask); auto (default): {VAL_SPLIT} with at least {VAL_MIN_ROWS} training rows, else none; "
                        f"0: none, and no early stopping")
    p.add_argument("--early-stopping", type=nonnegative_int, metavar="PATIENCE",
                   help=f"stop after PATIENCE epochs without a better validation loss and keep the best epoch's "
                        f"weights (default {PATIENCE} when rows are held out for validation; 0: off, every epoch "
                        f"runs and the last weights are kept)")
    p.add_argument("--scale", choices=SCALINGS, default="auto",
                   help="feature scaling: 255 (X/255), max (X/max of the training data), standardize (per "
                        "feature), none; auto (default): max for pixel-like data (at least 16 non-negative columns "
                        "sharing one range), else standardize; the choice and its reason are printed")
    p.add_argument("--missing", choices=MISSING, default="impute",
                   help="missing cells of a CSV/Parquet table: impute (default: the column's median, or a "
                        "'(missing)' category for text; the summary says what was filled in) or error (refuse, "
                        "naming the row and column)")
    p.add_argument("--out", type=output_path, default="bpx-model.npz", help="model file (default bpx-model.npz)")
    p.add_argument("--plot", type=output_path, metavar="PNG", help="write the loss/accuracy curves to this PNG")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                   help="0 silent, 1 progress bar on a terminal (default), 2 one line per epoch")
    add_optimizer_options(p)
    long_runs.add_long_run_options(p)
    add_dask_options(p)
    p.set_defaults(run=run, parser=p, val_reason=None)


def _lazy(spec):
    from bpx.backends._backend import get_backend
    from bpx.backends._fastest import is_fastest

    return not is_fastest(spec) and get_backend(spec).library.lazy  # "fastest" never picks a lazy backend


def _backend(args, rows):
    """``--backend``, with ``fastest`` made a request for this run: its own batch size, and its planned
    steps (epochs × steps per epoch over the ``rows`` fit trains on) to count each backend's compile
    time against (bpx.backends.Fastest)."""
    from bpx.backends._fastest import Fastest, is_fastest

    if not is_fastest(args.backend):
        return args.backend
    rows = max(1, rows)
    batch = min(args.batch_size or rows, rows)
    return Fastest(batch=batch, planned_steps=args.epochs * -(-rows // batch))


def _validation(args, n_rows):
    """Resolve ``--val-split auto`` for ``n_rows`` training rows and ``--early-stopping``'s default, in
    ``args`` (numbers from here on: the checkpoint's settings and the rows fit sees). Returns the held-out
    row count of a random split (fit's own rule: ``max(1, round(n * split))``); a stratified one counts
    its own."""
    if args.val_split == "auto":
        if args.early_stopping or n_rows >= VAL_MIN_ROWS:
            args.val_split, args.val_reason = VAL_SPLIT, "auto" if not args.early_stopping else "auto: --early-stopping"
        else:
            args.val_split, args.val_reason = 0.0, f"auto: none under {VAL_MIN_ROWS} training rows"
    elif args.val_reason is None:
        args.val_reason = "--val-split"
    if args.early_stopping is None:
        args.early_stopping = PATIENCE if args.val_split else 0
    return max(1, int(round(n_rows * args.val_split))) if args.val_split else 0


def _usage(args, message):
    args.parser.error(message)


def run(args):
    # -- flags that do not go together: usage errors, before any work ------------------------------
    if args.momentum is not None and args.optimizer != "sgd":
        _usage(args, "argument --momentum: applies to --optimizer sgd only")
    check_optimizer_options(args, lambda message: _usage(args, message))
    lazy = _lazy(args.backend)  # --backend dask: the data stay lazy, the steps run on a dask cluster
    if args.early_stopping and not args.val_split:
        _usage(args, "argument --early-stopping: needs a validation split (the validation loss it watches); "
                     "--val-split 0 holds none")
    if args.init_from and args.init:
        _usage(args, "argument --init-from: not with --init (the weights come from the file)")
    if args.test_data and args.data is None:
        _usage(args, "argument --test-data: needs --data")
    if args.task == "regression" and args.loss in ("cross_entropy", "binary_cross_entropy"):
        _usage(args, f"argument --task: regression does not go with --loss {args.loss} (use mse)")
    if args.task == "classification" and args.loss == "mse":
        _usage(args, "argument --task: classification does not go with --loss mse")
    if isinstance(args.dropout, list) and len(args.dropout) != len(args.hidden):
        _usage(args, f"argument --dropout: {len(args.dropout)} values for {len(args.hidden)} hidden layer(s)")
    long_runs.check_flags(args)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ImportError(f"--plot needs matplotlib: {install_hint('plot')}") from None
    if not lazy:
        given = dask_options_given(args)
        if given:
            _usage(args, f"argument {given[0]}: applies to --backend dask only")
        for option, value in (("--data", args.data), ("--test-data", args.test_data), ("--labels", args.labels)):
            if value is not None:  # directories and globs are for --backend dask (lazy stores and shards)
                try:
                    existing_file(value)
                except argparse.ArgumentTypeError as exc:
                    _usage(args, f"argument {option}: {exc}")
    else:
        train_dask.check(args, lambda message: _usage(args, message))
    say = (lambda *a: None) if args.json else print
    if not lazy:
        return _train(args, lazy, say)
    with train_dask.cluster(args, say, lambda: train_dask.open_data(args)) as opened:
        return _train(args, lazy, say, opened)


def _train(args, lazy, say, opened=None):
    """The command after its flags were checked: data, model, training, the model file, the report."""
    import numpy as np

    import bpx
    from bpx import datasets
    from bpx.data import TablePreprocessor
    from bpx.data._datasets import refuse_gaps
    from bpx.data._metrics import regression_metrics
    from bpx.data._preprocessing import (
        LabelEncoder,
        infer_task,
        label_names,
        random_split,
        sorted_classes,
        stratified_split,
    )

    started = time.perf_counter()
    quiet = args.json

    # -- data (host arrays; on a lazy backend X stays lazy and only the labels come to the host) -----
    opts = dict(label_column=args.label_column, x_key=args.x_key, y_key=args.y_key, labels=args.labels,
                require_labels=True)
    if lazy:
        train, test = opened
        if test is not None and (train.table is None) != (test.table is None):
            raise ValueError(f"--test-data {test.path}: a {'table' if test.table is not None else 'non-table'} file "
                             f"for a {'table' if train.table is not None else 'non-table'} --data; give both as "
                             f"CSV/Parquet tables, or neither")
        if args.missing == "error":  # the whole file, as the host path does: the first gap by row and column
            from bpx.data._dask_table import refuse_gaps as refuse_lazy_gaps

            for ds in (train, test):
                if ds is not None and ds.table is not None:
                    refuse_lazy_gaps(ds.table)
    else:
        train = datasets.load(args.data, **opts, tabular=True) if args.data else datasets.load_digits()
        test = datasets.load(args.test_data, **opts, tabular=True) if args.test_data else None
        if args.missing == "error":
            for ds in (train, test):
                if ds is not None:
                    refuse_gaps(ds)
    tables = train.table is not None and test is not None and test.table is not None
    if test is not None and not tables and test.n_features != train.n_features:  # tables: matched by name
        raise ValueError(f"{test.path}: {test.n_features} features per sample, but {train.path} has {train.n_features}")
    y = train.y
    loss = args.loss
    if args.task != "auto":
        task, why = args.task, "--task"
        if task == "classification" and y.ndim == 2 and y.shape[1] > 1:
            raise ValueError(f"{train.path}: --task classification needs one label per sample; the file has "
                             f"{y.shape[1]} target columns")
    elif loss == "mse":
        task, why = "regression", "auto: --loss mse"
    elif loss is not None and not (y.ndim == 2 and y.shape[1] > 1):
        task, why = "classification", f"auto: --loss {loss}"
    else:
        task, why = infer_task(y, train.classes)
        why = f"auto: {why}"
    classify = task == "classification"
    classes, encoder = None, None
    if classify:
        names = label_names(y, train.classes, f"{train.path}: labels", train.where)
        classes = list(train.classes) if train.classes is not None else sorted_classes(names)
        encoder = LabelEncoder(classes)
        targets = encoder.transform(list(names), f"{train.path}: labels")
        if len(classes) < 2:
            raise ValueError(f"{train.path}: the labels hold one class only ({classes[0]!r}); classification needs two")
        loss = loss or "cross_entropy"
        if loss == "binary_cross_entropy" and len(classes) != 2:
            raise ValueError(f"--loss binary_cross_entropy needs two classes; {train.path} has {len(classes)}")
        output = args.output or ("sigmoid" if loss == "binary_cross_entropy" else "softmax")
        n_out = 1 if output == "sigmoid" and len(classes) == 2 else len(classes)
        if output == "sigmoid" and n_out > 1:  # one sigmoid unit per class: one-hot targets
            from bpx.data._preprocessing import one_hot

            encode = encoder.transform
            encoder.transform = lambda names, what="labels": one_hot(encode(names, what), n_out)
            targets = one_hot(targets, n_out)
    else:
        if y.dtype.kind not in "biuf":
            raise ValueError(f"{train.path}: targets must be numbers for a regression, got class names")
        targets = y.astype(np.float64)
        loss = loss or "mse"
        output = args.output or {"mse": "identity", "binary_cross_entropy": "sigmoid", "cross_entropy": "softmax"}[loss]
        n_out = 1 if targets.ndim == 1 else targets.shape[1]
    if test is not None:
        test_targets = (encoder.transform(list(label_names(test.y, test.classes, f"{test.path}: labels", test.where)),
                                          f"{test.path}: labels") if classify
                        else test.y.astype(np.float64))
    raw = train.X if train.table is None else train.table  # a Table (lazy: a DaskTable): text, gaps and names
    X_train, X_test = raw, None
    if test is not None:
        X_test = test.X if test.table is None else test.table
    elif args.test_split:
        if len(train) < 2:
            raise ValueError(f"{train.path}: {len(train)} sample(s) cannot be split into training and test sets")
        split = (stratified_split(targets if targets.ndim == 1 else targets.argmax(axis=1), args.test_split, args.seed)
                 if classify
                 else random_split(len(train), args.test_split, args.seed))
        (tr, te) = split
        if len(te) == 0 or len(tr) == 0:  # checked now, not after training (an empty test set fails at the end)
            why_empty = ("every class has a single row" if classify and len(np.unique(targets if targets.ndim == 1
                                                                                    else targets.argmax(axis=1))) == len(train)
                         else f"{len(train)} rows")
            raise ValueError(f"{train.path}: --test-split {args.test_split} leaves {len(tr)} training and {len(te)} "
                             f"test rows ({why_empty}); give --test-split 0 (no test set), --test-data FILE, or more rows")
        if lazy:  # rows gathered chunk by chunk, in order
            tr, te = np.sort(tr), np.sort(te)
        X_train, X_test, targets, test_targets = raw[tr], raw[te], targets[tr], targets[te]
    if lazy and train.table is not None:  # a lazy table: the preprocessor learnt from dask reductions
        from bpx.data._dask_table import fit_table

        pre = fit_table(X_train, scale=args.scale, missing=args.missing)
        if X_test is not None:  # its columns matched by name now (the graph only), not after training
            X_test.encode(pre, name=test.path if test is not None else train.path)
        method, scale_why = pre.scaler.method, (f"auto: {pre.scaling_reason}" if args.scale == "auto" else "--scale")

        def feed(X):  # the table encoded chunk by chunk, in the network's dtype
            return X.encode(pre, net.dtype, train.path)
    elif lazy:  # lazy arrays: scaled as dask arrays; the model carries the same (numeric) preprocessing
        scaler, method, scale_why = train_dask.fit_scaler(X_train, args.scale)
        pre = TablePreprocessor.for_scaler(scaler, train.feature_names, scale_why)

        def feed(X):
            return train_dask.scaled(scaler, X)
    else:  # one TablePreprocessor: the network applies it to the raw table in fit/evaluate/predict
        pre = TablePreprocessor(scale=args.scale, missing=args.missing).fit(X_train, train.path or "the data")
        method, scale_why = pre.scaler.method, (f"auto: {pre.scaling_reason}" if args.scale == "auto" else "--scale")

        def feed(X):
            return X

    n_rows = X_train.shape[0]
    n_val = _validation(args, n_rows)
    X_fit, y_fit, held_out, how = X_train, targets, dict(validation_split=args.val_split), "at random"
    if n_val and classify and not lazy:  # stratified by class, as the test split (and scikit-learn's early stopping)
        rows, val = stratified_split(targets if targets.ndim == 1 else targets.argmax(axis=1), args.val_split, args.seed)
        X_fit, y_fit, held_out = X_train[rows], targets[rows], dict(validation_data=(X_train[val], targets[val]))
        n_val, how = len(val), "stratified by class"
    if n_val and n_val >= n_rows:
        raise ValueError(f"{train.path or 'the data'}: --val-split {args.val_split} leaves no training rows out of "
                         f"{n_rows}; give a smaller --val-split, 0, or more rows")

    # -- network -----------------------------------------------------------------------------------
    sizes = [pre.n_features_out, *args.hidden, n_out]
    net = bpx.MLP(sizes, activation=args.activation, output=output, loss=loss, backend=_backend(args, n_rows - n_val),
                  dtype=args.dtype, seed=args.seed, init=args.init, bias=not args.no_bias, dropout=args.dropout,
                  precision=args.precision)
    if net.backend.chosen_by is not None:  # --backend fastest: which one was picked, why, and the cache file
        say(net.backend.chosen_by.describe())
    if args.init_from:
        start = bpx.load(args.init_from, backend="numpy" if lazy else net.backend)
        if start.layer_sizes != sizes:
            raise ValueError(f"--init-from {args.init_from}: its layer sizes {start.layer_sizes} differ from this "
                             f"network's {sizes}")
        if start.bias != net.bias:
            raise ValueError(f"--init-from {args.init_from}: it was trained {'with' if start.bias else 'without'} "
                             f"biases; {'drop' if start.bias else 'add'} --no-bias")
        net.set_params(start.params)  # copied, and cast to this network's dtype
    net.classes = classes
    net.metadata = {
        "preprocessing": {
            **pre.to_dict(),
            "label_column": train.label_column,
            "task": "classification" if classify else "regression",
        },
        "training": {
            "data": train.path if args.data else "bundled digits (bpx/data/digits.npz)",
            "test_data": args.test_data,
            "optimizer": args.optimizer,
            "lr": args.lr or DEFAULT_LR.get(args.optimizer),
            "momentum": args.momentum or 0.0,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "seed": args.seed,
            "val_split": args.val_split,
            "early_stopping": args.early_stopping or None,
            "init_from": args.init_from,
        },
    }
    if lazy:
        net.metadata["training"]["dask_chunks"] = [int(c) for c in X_train.chunks[0]][:1]
    n_fit = n_rows - n_val
    optimizer, lr = build_optimizer(args, n_fit)
    net.metadata["training"].update(optimizer_config=repr(optimizer), batch_size=args.batch_size)
    where = train.path if args.data else "the bundled 8x8 digits"
    what = f"{len(classes)} classes" if classify else f"{n_out} target(s)"
    chunked = f" in {X_train.numblocks[0]} chunk(s)" if lazy else ""
    say(f"data: {where}: {len(X_train)} training samples{chunked}"
        + (f", {len(X_test)} test samples" if X_test is not None else "") + f", {train.n_features} features, {what}; "
        f"task {task} ({why})")
    precision = f", precision {net.precision}" if net.precision else ""
    extras = ("; no biases" if args.no_bias else "") + (f"; dropout {args.dropout}" if any(net.dropout) else "")
    say(f"model: {' -> '.join(map(str, sizes))}, {args.activation}/{output}, {loss}, {net.n_params:,} parameters"
        f"{extras}; backend {net.backend.spec}, {net.dtype}{precision}; {args.optimizer} lr={lr}, "
        f"batch {args.batch_size or 'full'}, {args.epochs} epochs; scaling {method} ({scale_why})")
    if n_val:
        stopping = (f"early stopping after {args.early_stopping} epochs without a better validation loss, the best "
                    f"epoch's weights kept" if args.early_stopping else
                    "no early stopping (--early-stopping 0): every epoch runs, the last weights kept")
        say(f"validation: {n_val} of the {n_rows} training rows held out {how} (--val-split {args.val_split}, "
            f"{args.val_reason}); {stopping}")
    elif args.val_reason.startswith("auto"):
        say(f"validation: none ({args.val_reason}); every epoch runs, the last weights kept")
    if pre.text or pre.filled:
        say(f"table: {len(pre.numeric)} numeric column(s), {len(pre.text)} text column(s) one-hot encoded into "
            f"{pre.n_features_out - len(pre.numeric)} columns; missing cells: {pre.describe_filled()}")
    sys.stdout.flush()

    # -- training: Ctrl-C/SIGTERM stop it after the current step, with a checkpoint (long_runs) -------
    import threading

    from bpx.training import STOP, stop_on_signals

    settings = long_runs.settings(args, net)
    resumed = long_runs.check_resume(args, settings)
    if resumed is not None:
        say(f"resume: {args.checkpoint} holds {resumed} complete epoch(s); on to {args.epochs}")
        sys.stdout.flush()
    # signal handlers can only be installed by the main thread (main() called from another: no handlers)
    with stop_on_signals() if threading.current_thread() is threading.main_thread() else contextlib.nullcontext(), \
            train_dask.second_signal_aborts(STOP) if lazy else contextlib.nullcontext():
        history = net.fit(feed(X_fit), y_fit, epochs=args.epochs, batch_size=args.batch_size, optimizer=optimizer,
                          early_stopping=args.early_stopping or None, **held_out,
                          verbose=min(args.verbose, 1) if quiet else args.verbose,
                          **long_runs.fit_options(args, settings))
        if history.interrupted:  # the model so far, and how to go on (still inside: a 2nd Ctrl-C waits)
            return long_runs.interrupted(args, net, history, started)

    def measure(X, Y):
        metrics = net.evaluate(feed(X), Y)
        if not classify and loss == "mse":  # R², RMSE and MAE in the targets' own units
            metrics.update(regression_metrics(Y, bpx.to_numpy(net.predict(feed(X)))))
        return metrics

    # a finished run is never thrown away: whatever fails from here on, the model is saved and the
    # checkpoint kept (long_runs.kept says where), and the default checkpoint goes only once all is done
    net.metadata["training"]["epochs_run"] = len(history)
    try:
        result = {"train": measure(X_train, targets)}
        if X_test is not None:
            result["test"] = measure(X_test, test_targets)
        net.metadata["training"]["result"] = result
        bpx.save(net, args.out)
        if args.plot:
            history.plot(args.plot)
    except (Exception, KeyboardInterrupt) as exc:  # Ctrl-C while measuring too: the model is saved first
        raise long_runs.kept(args, net, history, exc) from exc
    long_runs.finished(args)
    seconds = time.perf_counter() - started
    validation = {"split": args.val_split, "rows": n_val, "of_rows": n_rows, "reason": args.val_reason,
                  "early_stopping": args.early_stopping or None}
    kept = history.best_epoch if history.best_epoch is not None else len(history)  # the epoch whose weights were saved
    if args.json:
        print(json.dumps({
            "model": os.path.abspath(args.out), "backend": net.backend.spec, "dtype": net.dtype,
            "layer_sizes": sizes, "activation": args.activation, "output": output, "loss": loss,
            "classes": classes, "task": task, "task_reason": why, "scaling": method, "scaling_reason": scale_why,
            "feature_names": pre.feature_names, "text_columns": [c["name"] for c in pre.text],
            "missing": {"policy": args.missing if train.table is not None or not lazy else "error",
                        "filled": pre.filled},
            "bias": net.bias, "dropout": net.dropout, "epochs_run": len(history), "best_epoch": history.best_epoch,
            "stopped_early": history.stopped_early, "validation": validation, "weights_from_epoch": kept,
            "history": history.as_dict(), "plot": args.plot,
            "seconds": round(seconds, 3), "checkpoint": args.checkpoint and os.path.abspath(args.checkpoint),
            "resumed_from": history.resumed_from, "log": args.log, **result,
            **({"fastest": net.backend.chosen_by.as_dict()} if net.backend.chosen_by is not None else {}),
        }, indent=2))
        return 0
    if args.plot:
        say(f"curves: {args.plot}")
    say(f"saved {args.out} after {len(history)} epochs in {seconds:.1f} s{_stopping(args, history)}")
    say(_line("train", result["train"]))
    if "test" in result:
        say(_line("test", result["test"]))
    return 0


def _stopping(args, history):
    """When training stopped and which epoch's weights were kept (empty without early stopping)."""
    if history.best_epoch is None:
        return ""
    best = f"validation loss {history.val_loss[history.best_epoch - 1]:.4f}"
    if history.stopped_early and len(history) < args.epochs:
        return (f": stopped early (no better validation loss in the {len(history) - history.best_epoch} epochs "
                f"after epoch {history.best_epoch}); the weights are epoch {history.best_epoch}'s ({best})")
    return f"; the weights are epoch {history.best_epoch}'s, the best ({best})"


def _line(name, metrics):
    text = f"{name} loss {metrics['loss']:.4f}"
    if "accuracy" in metrics:
        text = f"{name} accuracy {metrics['accuracy']:.4f}, " + text
    elif "r2" in metrics:
        text = (f"{name} R² {metrics['r2']:.4f}, RMSE {metrics['rmse']:.4g}, MAE {metrics['mae']:.4g}, "
                f"loss {metrics['loss']:.4f} (½·MSE, the mse loss: half the mean squared error)")
    return text
