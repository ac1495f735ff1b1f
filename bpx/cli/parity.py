"""``bpx parity``: the drift report — one network trained on every backend and dtype, compared epoch
by epoch with a float64 NumPy reference."""

from __future__ import annotations

import json

from bpx.cli.args import int_list, positive_float, positive_int, unit_interval


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "parity", help="drift of every backend and dtype against float64 NumPy",
        description="Train the same network (same initial weights, same batches) on every backend and dtype; "
                    "print per epoch max |Δloss| and max |ΔW| against a float64 NumPy run.")
    parser.add_argument("--backends", type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
                        help="comma-separated backend specs (default: every usable one, strict on device1 too)")
    parser.add_argument("--dtypes", default="float32,float64", type=lambda s: s.split(","),
                        help="comma-separated dtypes (default float32,float64)")
    parser.add_argument("--layers", type=int_list, default=[32, 64, 10], help="layer sizes (default 32,64,10)")
    parser.add_argument("--epochs", type=positive_int, default=5)
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument("--lr", type=positive_float, default=0.05)
    parser.add_argument("--momentum", type=unit_interval, default=0.9)
    parser.add_argument("--samples", type=positive_int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON ('-' for stdout only)")
    parser.set_defaults(run=run)


def run(args):
    from bpx.tools._parity import drift_report, format_table

    if len(args.layers) < 2:
        raise ValueError("--layers needs at least the input and output widths, e.g. 32,10")
    for dtype in args.dtypes:
        if dtype not in ("float32", "float64"):
            raise ValueError(f"--dtypes takes float32 and/or float64, got {dtype!r}")
    report = drift_report(specs=args.backends, dtypes=args.dtypes, layer_sizes=args.layers, epochs=args.epochs,
                          batch_size=args.batch_size, lr=args.lr, momentum=args.momentum, samples=args.samples,
                          seed=args.seed)
    if args.json == "-":
        print(json.dumps(report, indent=2))
        return 0
    print(format_table(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0
