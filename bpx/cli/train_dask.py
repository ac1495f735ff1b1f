"""``bpx train --backend dask``: train on data opened lazily (``bpx.datasets.open_dask``), the steps
running on a dask.distributed cluster: ``--scheduler ADDRESS``, else ``$DASK_SCHEDULER_ADDRESS``, else a
LocalCluster of ``--workers`` processes (× ``--threads``) started and closed here.

Only the labels (one number per sample) come to the host, for the class list and the split; X stays
lazy: the test split takes rows chunk by chunk (a seeded stratified choice of row indices, as on the
host path), the scaling statistics are one pass over X, and training and evaluation run per chunk.
The model file is the same as ``bpx train``'s: ``bpx predict``/``evaluate`` read it on any backend.
"""

from __future__ import annotations

import json
import os
import sys
import time

from .args import positive_int


def add_dask_options(parser):
    g = parser.add_argument_group("dask (with --backend dask)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="a dask.distributed scheduler, e.g. tcp://host:8786 (default $DASK_SCHEDULER_ADDRESS, "
                        "else a LocalCluster of --workers processes on this machine)")
    g.add_argument("--workers", type=positive_int, default=2, help="LocalCluster worker processes (default 2)")
    g.add_argument("--threads", type=positive_int, default=1, help="threads per LocalCluster worker (default 1)")
    g.add_argument("--chunks", type=positive_int, metavar="ROWS",
                   help="rows per chunk (default: the store's, or about 64 MiB per chunk)")
    g.add_argument("--connect-timeout", type=positive_int, default=10, metavar="SECONDS",
                   help="how long to wait for --scheduler to answer (default 10)")


def run(args):
    import dask
    import numpy as np

    import bpx
    from bpx import datasets
    from bpx import distributed as bd
    from bpx.preprocessing import LabelEncoder, Scaler, label_names, random_split, sorted_classes, stratified_split

    from .optimizer_options import build_optimizer
    from .train import _line

    if args.val_split or args.early_stopping:
        args.parser.error("argument --val-split/--early-stopping: not supported with --backend dask "
                          "(use --test-data or --test-split)")
    if args.momentum is not None and args.optimizer != "sgd":
        args.parser.error("argument --momentum: applies to --optimizer sgd only")
    if args.init_from and args.init:
        args.parser.error("argument --init-from: not with --init (the weights come from the file)")
    started = time.perf_counter()
    say = (lambda *a: None) if args.json else print
    client = bd.connect(args.scheduler, args.workers, args.threads, timeout=args.connect_timeout)
    with client:
        say(f"dask: {client.scheduler.address if hasattr(client.scheduler, 'address') else client}, "
            f"{len(client.scheduler_info(n_workers=-1)['workers'])} worker(s)")
        if args.data:
            train = datasets.open_dask(args.data, x_key=args.x_key, y_key=args.y_key,
                                       label_column=args.label_column, chunks=args.chunks)
        else:
            digits = datasets.load_digits()
            train = datasets.Dataset(bd.as_dask(digits.X, chunks=args.chunks or 400), digits.y, None, None,
                                     label_column="digit")
        test = (datasets.open_dask(args.test_data, x_key=args.x_key, y_key=args.y_key, label_column=args.label_column,
                                   chunks=args.chunks) if args.test_data else None)
        if train.y is None:
            raise ValueError(f"{train.path}: the data holds no labels (y); training needs them")
        y = np.asarray(train.y.compute() if bd.is_dask(train.y) else train.y)  # one number per sample
        classify = not (args.loss == "mse" or y.ndim == 2 or (y.dtype.kind == "f" and not np.all(y == np.round(y))))
        loss = args.loss or ("cross_entropy" if classify else "mse")
        if classify:
            classes = sorted_classes(label_names(y))
            if len(classes) < 2:
                raise ValueError(f"{train.path}: the labels hold one class only; classification needs two")
            encoder = LabelEncoder(classes)
            targets = encoder.transform(list(label_names(y)), f"{train.path}: labels")
            if loss == "binary_cross_entropy" and len(classes) != 2:
                raise ValueError(f"--loss binary_cross_entropy needs two classes; {train.path} has {len(classes)}")
            output = args.output or ("sigmoid" if loss == "binary_cross_entropy" else "softmax")
            n_out = 1 if output == "sigmoid" else len(classes)
            if output == "sigmoid":
                targets = targets.astype(np.float64)
        else:
            classes, targets = None, y.astype(np.float64)
            output = args.output or "identity"
            n_out = 1 if targets.ndim == 1 else targets.shape[1]
        X_train, X_test, test_targets = train.X, None, None
        if test is not None:
            X_test = test.X
            ty = np.asarray(test.y.compute())
            test_targets = (encoder.transform(list(label_names(ty)), f"{test.path}: labels") if classify
                            else ty.astype(np.float64))
            if output == "sigmoid":
                test_targets = test_targets.astype(np.float64)
        elif args.test_split:
            tr, te = (stratified_split(targets if targets.ndim == 1 else targets.argmax(axis=1), args.test_split,
                                       args.seed) if classify else random_split(len(targets), args.test_split, args.seed))
            tr, te = np.sort(tr), np.sort(te)
            X_train, X_test, test_targets, targets = train.X[tr], train.X[te], targets[te], targets[tr]
        method = args.scale
        X_train = bd.as_dask(X_train)
        lo, top, mean, std = dask.compute(X_train.min(), abs(X_train).max(), X_train.mean(axis=0), X_train.std(axis=0))
        if method == "auto":
            method = "max" if float(lo) >= 0 else "standardize"
        scaler = Scaler(method)
        scaler.n_features = X_train.shape[1]
        if method == "max":
            scaler.scale = float(top) if float(top) > 0 else 1.0
        elif method == "standardize":
            scaler.mean, scaler.scale = np.asarray(mean), np.where(np.asarray(std) > 0, np.asarray(std), 1.0)

        def scaled(X):
            X = bd.as_dask(X).astype(np.float64)
            if method == "none":
                return X
            if method == "255":
                return X / 255.0
            return X / scaler.scale if method == "max" else (X - scaler.mean) / scaler.scale

        sizes = [X_train.shape[1], *args.hidden, n_out]
        net = bpx.MLP(sizes, activation=args.activation, output=output, loss=loss, backend=args.backend,
                      dtype=args.dtype, seed=args.seed, init=args.init)
        if args.init_from:
            start = bpx.load(args.init_from, backend="numpy")
            if start.layer_sizes != sizes:
                raise ValueError(f"--init-from {args.init_from}: its layer sizes {start.layer_sizes} differ from "
                                 f"this network's {sizes}")
            net.set_params(start.params)
        optimizer, lr = build_optimizer(args, X_train.shape[0])
        net.classes = classes
        net.metadata = {
            "preprocessing": {"scaling": scaler.to_dict(), "label_column": train.label_column,
                              "task": "classification" if classify else "regression",
                              "feature_names": train.feature_names},
            "training": {"data": train.path or "bundled digits (bpx/digits.npz)", "test_data": args.test_data,
                         "optimizer": args.optimizer, "lr": lr, "momentum": args.momentum or 0.0,
                         "epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed,
                         "init_from": args.init_from, "dask_chunks": [int(c) for c in X_train.chunks[0]][:1]},
        }
        what = f"{len(classes)} classes" if classify else f"{n_out} target(s)"
        say(f"data: {train.path or 'the bundled 8x8 digits'}: {X_train.shape[0]} training samples in "
            f"{X_train.numblocks[0]} chunk(s)" + (f", {X_test.shape[0]} test samples" if X_test is not None else "")
            + f", {X_train.shape[1]} features, {what}")
        say(f"model: {' -> '.join(map(str, sizes))}, {args.activation}/{output}, {loss}; backend {net.backend.spec}, "
            f"{net.dtype}; {args.optimizer} lr={lr}, batch {args.batch_size or 'full'}, {args.epochs} epochs; "
            f"scaling {method}")
        sys.stdout.flush()
        history = net.fit(scaled(X_train), targets, epochs=args.epochs, batch_size=args.batch_size,
                          optimizer=optimizer, verbose=min(args.verbose, 1) if args.json else args.verbose)
        result = {"train": net.evaluate(scaled(X_train), targets)}
        if X_test is not None:
            result["test"] = net.evaluate(scaled(X_test), test_targets)
    net.metadata["training"]["epochs_run"] = len(history)
    net.metadata["training"]["result"] = result
    bpx.save(net, args.out)
    if args.plot:
        history.plot(args.plot)
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps({"model": os.path.abspath(args.out), "backend": net.backend.spec, "dtype": net.dtype,
                          "layer_sizes": sizes, "activation": args.activation, "output": output, "loss": loss,
                          "classes": classes, "scaling": method, "epochs_run": len(history),
                          "history": history.as_dict(), "seconds": round(seconds, 3), **result}, indent=2))
        return 0
    say(f"saved {args.out} after {len(history)} epochs in {seconds:.1f} s")
    say(_line("train", result["train"]))
    if "test" in result:
        say(_line("test", result["test"]))
    return 0
