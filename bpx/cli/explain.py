"""``bpx explain``: the four backprop equations' values, layer by layer, for one gradient-descent step
of a small network (default: the 2-2-2 worked example)."""

from __future__ import annotations

import argparse

from bpx.cli.args import positive_float, positive_int
from bpx.utils._paths import regular_file_problem


def add_parser(subparsers):
    from bpx.tools._explain import MAX_SAMPLES, MAX_UNITS

    parser = subparsers.add_parser(
        "explain", help="one backprop step, equation by equation (the 2-2-2 worked example by default)",
        description="Print z, a, the cost, δ (BP1, BP2), ∂C/∂W (BP4), ∂C/∂b (BP3) and the updated weights of one "
                    "gradient-descent step, layer by layer, as the worked example's tutorial lays them out. "
                    "Default: the 2-2-2 worked example's sigmoid network (Mazur's). "
                    f"With --model and --data: a saved model (at most {MAX_UNITS} units per "
                    f"layer) on the first --rows rows (at most {MAX_SAMPLES}) of an .npz file with arrays X and y.")
    parser.add_argument("--backend", help="backend spec (default $BPX_BACKEND, else auto)")
    parser.add_argument("--dtype", choices=("float32", "float64"),
                        help="dtype of the computation (default: the model's with --model, else float64 where the "
                             "backend has it)")
    parser.add_argument("--lr", type=positive_float, default=0.5, help="learning rate of the step (default 0.5)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of text")
    parser.add_argument("--model", metavar="M.npz", help="a model saved by bpx.save (needs --data)")
    parser.add_argument("--data", metavar="D.npz", help="an .npz file with arrays X and y (needs --model)")
    parser.add_argument("--rows", type=_rows, metavar="N",
                        help=f"explain the first N rows of --data (1..{MAX_SAMPLES}, default 1)")
    parser.set_defaults(run=run, explain_parser=parser)


def _rows(text):
    from bpx.tools._explain import MAX_SAMPLES

    value = positive_int(text)
    if value > MAX_SAMPLES:
        raise argparse.ArgumentTypeError(f"explain shows at most {MAX_SAMPLES} rows, got {text!r}")
    return value


def run(args):
    import bpx
    from bpx.tools._explain import explain

    parser = args.explain_parser
    if (args.model is None) != (args.data is None):
        parser.error("--model and --data go together: give both, or neither for the 2-2-2 worked example")
    if args.rows is not None and args.model is None:
        parser.error("--rows needs --model and --data (the 2-2-2 worked example has one sample)")
    try:
        backend = bpx.get_backend(args.backend)
    except ValueError as exc:
        parser.error(f"--backend: {exc}")
    if args.dtype is not None and not backend.has_dtype(args.dtype):
        parser.error(f"--dtype {args.dtype}: backend {backend.spec!r} has no {args.dtype}; use --dtype float32")
    if args.model is None:
        dtype = args.dtype or ("float64" if backend.has_dtype("float64") else "float32")
        report = explain(lr=args.lr, backend=backend, dtype=dtype)
    else:
        rows = args.rows or 1
        X, y = read_npz(args.data, rows)
        net = bpx.load(args.model, backend=backend)
        report = explain(net, X, y, lr=args.lr, backend=backend, dtype=args.dtype or net.dtype)  # default: the model's
    print(report.to_json() if args.json else report)
    return 0


def read_npz(path, rows):
    """The first ``rows`` rows of arrays ``X`` and ``y`` in the .npz file ``path`` (host numpy)."""
    import zipfile

    import numpy as np

    problem = regular_file_problem(path)
    if problem is not None:
        raise FileNotFoundError(f"--data {path!r}: {problem}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"--data {path!r} is not a readable .npz file (bpx explain reads the arrays X and y of an .npz; "
                         f"save a table with numpy.savez(path, X=X, y=y))")
    try:
        data = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise ValueError(f"--data {path!r} is not a readable .npz file with arrays X and y ({exc})") from None
    if not hasattr(data, "files"):
        raise ValueError(f"--data {path!r} is a .npy array, not an .npz file with arrays X and y")
    with data:
        missing = [k for k in ("X", "y") if k not in data.files]
        if missing:
            raise ValueError(f"--data {path!r} has no array {' or '.join(missing)}; it holds "
                             f"{', '.join(data.files) or 'nothing'} (expected X and y)")
        try:
            X, y = data["X"], data["y"]
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise ValueError(f"--data {path!r}: X and y must be numeric arrays stored without pickle ({exc})") from None
    if X.ndim != 2:
        raise ValueError(f"--data {path!r}: X must be 2-D (samples, features), got shape {X.shape}")
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise ValueError(f"--data {path!r}: y must have one entry or row per row of X ({X.shape[0]}), got shape {y.shape}")
    if X.shape[0] < rows:
        raise ValueError(f"--rows {rows}, but --data {path!r} has only {X.shape[0]} rows")
    return X[:rows], y[:rows]
