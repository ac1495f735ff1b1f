"""What ``bpx train`` does differently on a lazy backend (``--backend dask``): the data are opened
lazily (``bpx.datasets.open_dask``) and the steps run on a dask.distributed cluster: ``--scheduler
ADDRESS``, else ``$DASK_SCHEDULER_ADDRESS``, else a LocalCluster of ``--workers`` processes (×
``--threads``) started and closed by the command.

Only the labels (one number per sample) come to the host, for the class list and the split; X stays
lazy: the test split takes rows chunk by chunk (a seeded stratified choice of row indices, as on the
host path), the scaling statistics are one pass over X, and training and evaluation run per chunk.
The rest of the command (flags, model, training, checkpoints, the model file) is :mod:`bpx.cli.train`'s,
the same on every backend: ``bpx predict``/``evaluate`` read the model file on any backend.
"""

from __future__ import annotations

from bpx.cli.args import positive_int


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


DASK_OPTIONS = ("--scheduler", "--workers", "--threads", "--chunks", "--connect-timeout")


def dask_options_given(args, parser):
    """The dask options set to something other than their defaults (they need ``--backend dask``)."""
    return [option for option in DASK_OPTIONS
            if getattr(args, option[2:].replace("-", "_")) != parser.get_default(option[2:].replace("-", "_"))]


def connect(args, say):
    """The ``dask.distributed.Client`` the command trains through (the caller closes it)."""
    import signal
    import threading

    import bpx.data._dask_arrays as bd

    # Ctrl-C in a terminal signals the whole process group: a LocalCluster's worker processes would die
    # mid-step and the run hang. Started with SIGINT ignored, they keep ignoring it (an ignored signal
    # stays ignored in a child); this process then stops the run cleanly (bpx.training.stop_on_signals).
    main_thread = threading.current_thread() is threading.main_thread()
    before = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    try:
        client = bd.connect(args.scheduler, args.workers, args.threads, timeout=args.connect_timeout)
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, before)
    say(f"dask: {client.scheduler.address if hasattr(client.scheduler, 'address') else client}, "
        f"{len(client.scheduler_info(n_workers=-1)['workers'])} worker(s)")
    return client


def open_data(args):
    """``(train, test)``: :class:`bpx.datasets.Dataset` records whose X are dask arrays chunked by rows
    and whose y are host NumPy labels (one number per sample); ``test`` is None without --test-data."""
    import numpy as np

    import bpx.data._dask_arrays as bd
    from bpx import datasets

    def opened(path):
        ds = datasets.open_dask(path, x_key=args.x_key, y_key=args.y_key, label_column=args.label_column,
                                chunks=args.chunks)
        if ds.y is None:
            raise ValueError(f"{ds.path}: the data holds no labels (y); training and evaluation need them")
        ds.y = np.asarray(ds.y.compute() if bd.is_dask(ds.y) else ds.y)
        return ds

    if args.data:
        train = opened(args.data)
    else:
        digits = datasets.load_digits()
        train = datasets.Dataset(bd.as_dask(digits.X, chunks=args.chunks or 400), digits.y, None, digits.path,
                                 label_column="digit")
    return train, opened(args.test_data) if args.test_data else None


def fit_scaler(X, method):
    """``(scaler, method, reason)``: a :class:`bpx.preprocessing.Scaler` fitted in one lazy pass over X
    (``auto``: max for non-negative data, else standardize)."""
    import dask
    import numpy as np

    import bpx.data._dask_arrays as bd
    from bpx.data._preprocessing import Scaler

    X = bd.as_dask(X)
    lo, top, mean, std = dask.compute(X.min(), abs(X).max(), X.mean(axis=0), X.std(axis=0))
    why = "--scale"
    if method == "auto":
        method = "max" if float(lo) >= 0 else "standardize"
        why = f"auto: {'non-negative data' if method == 'max' else 'some negative values'} (dask: one lazy pass)"
    scaler = Scaler(method)
    scaler.n_features = X.shape[1]
    if method == "max":
        scaler.scale = float(top) if float(top) > 0 else 1.0
    elif method == "standardize":
        scaler.mean, scaler.scale = np.asarray(mean), np.where(np.asarray(std) > 0, np.asarray(std), 1.0)
    return scaler, method, why


def scaled(scaler, X):
    """X (any rows of the data) scaled lazily, as float64 dask chunks."""
    import numpy as np

    import bpx.data._dask_arrays as bd

    return scaler.apply(bd.as_dask(X).astype(np.float64), lambda values: values)
