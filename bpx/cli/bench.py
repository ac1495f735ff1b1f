"""``bpx bench``: bpx against a hand-written NumPy loop, PyTorch, scikit-learn and the GEMM roof."""

from __future__ import annotations

import sys

from .args import int_list, positive_int


def _names(text):
    return [x.strip() for x in text.split(",") if x.strip()]


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "bench", help="benchmark bpx against peers and the GEMM roof",
        description="Time workloads (a) tiny 2-2-2 net, 10,000 single-sample steps; (b) 784-512-512-10 relu, "
                    "batch 256, float32, 60,000 samples; (c) sweep width x batch x dtype; "
                    "(d) the digits network 64-128-10, batch 32 — on every bpx backend, "
                    "a hand-written NumPy loop, PyTorch, scikit-learn and the numpy GEMM roof. Prints a markdown "
                    "table with the ratios.")
    parser.add_argument("--workloads", type=_names, default=["a", "b", "c", "d"],
                        help="comma-separated among a (tiny), b (standard), c (sweep), d (digits); default a,b,c,d")
    parser.add_argument("--backends", type=_names, help="comma-separated bpx backend specs (default: every usable one)")
    parser.add_argument("--peers", type=_names,
                        help="comma-separated among hand, roof, torch:cpu, torch:cuda, sklearn (default: all available)")
    parser.add_argument("--repeats", type=positive_int, default=3, help="timed repeats; the median is reported (default 3)")
    parser.add_argument("--warmup", type=positive_int, default=1, help="uncounted warm-up calls (default 1, at least 1)")
    parser.add_argument("--quick", action="store_true", help="shrink every workload (a smoke test, seconds)")
    parser.add_argument("--tiny-steps", type=positive_int, help="steps of workload (a) (default 10000; --quick 500)")
    parser.add_argument("--samples", type=positive_int, help="samples of workload (b) (default 60000; --quick 2048)")
    parser.add_argument("--widths", type=int_list, help="sweep widths (default 128,512,2048; --quick 16,64)")
    parser.add_argument("--batches", type=int_list, help="sweep batches (default 32,256,2048; --quick 32,128)")
    parser.add_argument("--dtypes", type=_names, default=["float32", "float64"], help="sweep dtypes (default float32,float64)")
    parser.add_argument("--threads", type=positive_int,
                        help="pin numpy's BLAS and torch to this many threads (default: as the machine is)")
    parser.add_argument("--json", metavar="PATH", help="also write the results (with machine and versions) as JSON")
    parser.add_argument("--plot", metavar="PATH", help="also write a PNG of throughput vs width per backend")
    parser.add_argument("--output", metavar="PATH", help="also write the markdown table to PATH")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(run=run)


def run(args):
    from bpx import bench

    for dtype in args.dtypes:
        if dtype not in ("float32", "float64"):
            raise ValueError(f"--dtypes takes float32 and/or float64, got {dtype!r}")
    known = {"hand", "roof", "sklearn", "torch:cpu", "torch:cuda"}
    for peer in args.peers or []:
        if peer not in known and not peer.startswith("torch:"):
            raise ValueError(f"--peers takes {', '.join(sorted(known))}, got {peer!r}")
    if args.backends:
        import bpx

        for spec in args.backends:
            bpx.get_backend(spec)  # a clear error for an unknown or unusable backend, before any work
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    report = bench.run(workloads=args.workloads, specs=args.backends, peers=args.peers, repeats=args.repeats,
                       warmup=args.warmup, quick=args.quick, tiny_steps=args.tiny_steps, samples=args.samples,
                       sweep_widths=args.widths, sweep_batches=args.batches, sweep_dtypes=args.dtypes, log=log,
                       threads=args.threads)
    table = bench.format_table(report)
    print(table)
    if args.output:
        with open(args.output, "w") as f:
            f.write(table)
    if args.json:
        bench.write_json(report, args.json)
    if args.plot:
        bench.plot(report, args.plot)
    return 0
