"""What ``bpx train`` does differently on a lazy backend (``--backend dask``): the data are opened
lazily (``bpx.datasets.open_dask``) and the steps run on a dask.distributed cluster: ``--scheduler
ADDRESS``, else ``$DASK_SCHEDULER_ADDRESS``, else a LocalCluster of ``--workers`` processes (×
``--threads``) started and closed by the command. ``--workers``/``--threads`` size that LocalCluster
only, so they are refused with a scheduler; every flag is checked, and the data opened and checked,
before a LocalCluster starts (:func:`check`, :func:`cluster`).

When the cluster fails mid-run (docs/guide/dask.md): a lost scheduler stops the run as Ctrl-C does
(the checkpoint ``<out>.ckpt``, the model so far, the resume command; exit status 1); a cluster without
workers for ``--no-workers-timeout`` seconds gives a warning, and Ctrl-C/SIGTERM still stop the run
with its checkpoint; a second Ctrl-C aborts (:func:`second_signal_aborts`).

Only the labels (one per sample) come to the host, for the class list and the split; X stays
lazy: the test split takes rows chunk by chunk (a seeded stratified choice of row indices, as on the
host path), the scaling statistics are one pass over X, and training and evaluation run per chunk.
A CSV or Parquet file is a table (:mod:`bpx.data._dask_table`): text columns and missing cells are
kept, the host path's :class:`bpx.data.TablePreprocessor` is learnt from dask reductions over the
training rows, and each chunk is encoded by its ``transform``; the model carries it as on the host.
The rest of the command (flags, model, training, checkpoints, the model file) is :mod:`bpx.cli.train`'s,
the same on every backend: ``bpx predict``/``evaluate`` read the model file on any backend.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import warnings

from bpx.cli.args import positive_float, positive_int

DEFAULT_WORKERS, DEFAULT_THREADS, DEFAULT_CONNECT_TIMEOUT, DEFAULT_NO_WORKERS_TIMEOUT = 2, 1, 10, 60.0


def add_dask_options(parser, training=True):
    """The cluster options (``training=False``: without --no-workers-timeout, which watches training steps)."""
    g = parser.add_argument_group("dask (with --backend dask)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="a dask.distributed scheduler, e.g. tcp://host:8786 (default $DASK_SCHEDULER_ADDRESS, "
                        "else a LocalCluster of --workers processes on this machine)")
    g.add_argument("--workers", type=positive_int,
                   help=f"worker processes of the LocalCluster the command starts (default {DEFAULT_WORKERS}; "
                        f"not with --scheduler or $DASK_SCHEDULER_ADDRESS, whose cluster has its own)")
    g.add_argument("--threads", type=positive_int,
                   help=f"threads per LocalCluster worker (default {DEFAULT_THREADS}; not with a scheduler)")
    g.add_argument("--chunks", type=positive_int, metavar="ROWS",
                   help="rows per chunk (default: the store's, or about 64 MiB per chunk; .npz shards: one chunk "
                        "per shard)")
    g.add_argument("--connect-timeout", type=positive_int, metavar="SECONDS",
                   help=f"how long to wait for --scheduler to answer (default {DEFAULT_CONNECT_TIMEOUT})")
    if training:
        g.add_argument("--no-workers-timeout", type=positive_float, metavar="SECONDS",
                       help=f"warn when the cluster has had no workers for this long while a step waits "
                            f"(default {DEFAULT_NO_WORKERS_TIMEOUT:g}); Ctrl-C/SIGTERM then stop the run with its "
                            f"checkpoint, a second Ctrl-C aborts")


DASK_OPTIONS = ("--scheduler", "--workers", "--threads", "--chunks", "--connect-timeout", "--no-workers-timeout")
LOCAL_CLUSTER_OPTIONS = ("--workers", "--threads")


def _dest(option):
    return option[2:].replace("-", "_")


def dask_options_given(args, parser=None):
    """The dask options given on the command line (they need ``--backend dask``)."""
    return [option for option in DASK_OPTIONS if getattr(args, _dest(option), None) is not None]


def scheduler_address(args):
    """``--scheduler``, else ``$DASK_SCHEDULER_ADDRESS``, else None (a LocalCluster)."""
    return args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None


def check(args, usage):
    """Usage errors (``usage(message)``, exit 2) and refused values (ValueError) of a ``--backend dask``
    command, before any cluster or data work: LocalCluster options with a scheduler, a precision the
    dask backend does not offer."""
    address = scheduler_address(args)
    for option in LOCAL_CLUSTER_OPTIONS:
        if address and getattr(args, _dest(option), None) is not None:
            where = "--scheduler" if args.scheduler else f"$DASK_SCHEDULER_ADDRESS ({address})"
            usage(f"argument {option}: sizes the LocalCluster the command starts; with {where} the cluster "
                  f"there has its own workers (drop {option}, or the scheduler to start a LocalCluster)")
    if getattr(args, "labels", None) is not None and getattr(args, "data", None) is None:
        usage("argument --labels: needs --data (the shards the label shards go with)")
    if getattr(args, "precision", None) is not None:
        from bpx.backends._backend import get_backend
        from bpx.nn._precision import check_precision, compute_dtype

        compute_dtype(get_backend(args.backend), check_precision(args.precision, args.dtype))


@contextlib.contextmanager
def cluster(args, say, open_data):
    """The command's data, opened by ``open_data()``, inside a ``dask.distributed`` client (closed on
    exit): a remote scheduler is connected first (nothing starts there); a LocalCluster is started only
    after the data were opened and checked (chunked for its threads). Cluster warnings are one line
    each on stderr."""
    import dask

    import bpx.data._dask_arrays as bd
    from bpx.training.engines._cluster import NoWorkersWarning, SchedulerLostWarning

    timeout = getattr(args, "no_workers_timeout", None) or DEFAULT_NO_WORKERS_TIMEOUT
    with dask.config.set({"bpx.no-workers-timeout": timeout}), warnings.catch_warnings():
        warnings.simplefilter("ignore", SchedulerLostWarning)  # the command's own closing line says it
        show = warnings.showwarning

        def one_line(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, NoWorkersWarning):
                print(f"bpx {args.command}: warning: {message}", file=sys.stderr, flush=True)
            else:
                show(message, category, filename, lineno, file, line)

        warnings.showwarning = one_line
        if scheduler_address(args):
            with _closing(connect(args, say)):
                yield open_data()
        else:
            with bd.planned_threads((args.workers or DEFAULT_WORKERS) * (args.threads or DEFAULT_THREADS)):
                data = open_data()
            with _closing(connect(args, say)):
                yield data


@contextlib.contextmanager
def _closing(client):
    """``client``, closed on exit; after a lost scheduler without distributed's reconnection tracebacks on
    stderr (the command has said what happened)."""
    try:
        yield client
    finally:
        if client.status != "running":
            import logging

            for name in ("distributed", "distributed.client"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
        client.close()


@contextlib.contextmanager
def second_signal_aborts(stop):
    """Within the block (inside :func:`bpx.training.stop_on_signals`), a second Ctrl-C/SIGTERM while
    the first stop is pending raises KeyboardInterrupt: it aborts a run whose stop waits on a cluster.
    Outside the main thread, nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGINT, signal.SIGTERM)

    def handler(signum, frame):
        if stop.signal is not None:
            raise KeyboardInterrupt(f"a second {signal.Signals(signum).name}")
        stop.request(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


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
        client = bd.connect(args.scheduler, args.workers or DEFAULT_WORKERS, args.threads or DEFAULT_THREADS,
                            timeout=args.connect_timeout or DEFAULT_CONNECT_TIMEOUT)
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, before)
    say(f"dask: {client.scheduler.address if hasattr(client.scheduler, 'address') else client}, "
        f"{len(client.scheduler_info(n_workers=-1)['workers'])} worker(s)")
    return client


def open_data(args):
    """``(train, test)``: :class:`bpx.datasets.Dataset` records whose X are dask arrays chunked by rows
    (a CSV or Parquet file: X None and ``table`` a :class:`bpx.data._dask_table.DaskTable`, text columns
    and missing cells kept) and whose y are host NumPy labels (one per sample; class names as text);
    ``test`` is None without --test-data."""
    import numpy as np

    import bpx.data._dask_arrays as bd
    from bpx import datasets
    from bpx.data._dask_table import is_table_file, open_table

    def opened(path):
        if is_table_file(path):  # CSV/Parquet: text columns and gaps kept, preprocessed on the cluster (fit_table)
            if args.labels is not None and path == args.data:
                raise ValueError(f"--labels {args.labels}: label shards go with a directory or glob of .npy shards; "
                                 f"{path} holds its labels itself (--label-column)")
            ds = open_table(path, label_column=args.label_column, chunks=args.chunks)
        else:
            ds = datasets.open_dask(path, x_key=args.x_key, y_key=args.y_key, label_column=args.label_column,
                                    chunks=args.chunks, labels=args.labels if path == args.data else None)
        if ds.y is None:
            raise ValueError(f"{ds.path}: the data holds no labels (y); training and evaluation need them (.npy "
                             f"shards: X_<name>.npy with y_<name>.npy, or --labels GLOB)")
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
