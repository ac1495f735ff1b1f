"""``bpx bench``: bpx against a hand-written NumPy loop, PyTorch, scikit-learn and the GEMM roof."""

from __future__ import annotations

import sys

from bpx.cli.args import existing_file, int_list, positive_int, refuse_overwrite


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
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time (default), or this process's CPU time: on a machine loaded by other work it "
                             "leaves out the waits for a core (CPU backends only)")
    parser.add_argument("--json", metavar="PATH",
                        help="also write the results (with machine and versions) as JSON ('-' for stdout only)")
    parser.add_argument("--plot", metavar="PATH", help="also write a PNG of throughput vs width per backend")
    parser.add_argument("--output", metavar="PATH", help="also write the markdown table to PATH")
    mine = parser.add_argument_group(
        "your own network", "time one network on every usable backend instead of the workloads: samples/s, the ratio "
                            "to the fastest, the fraction of each backend's own GEMM roof and the compile time")
    mine.add_argument("--hidden", type=int_list, help="hidden widths, e.g. 512,512 (with --features, --classes)")
    mine.add_argument("--features", type=positive_int, default=784, help="input width (default 784)")
    mine.add_argument("--classes", type=positive_int, default=10, help="output width (default 10)")
    mine.add_argument("--model", type=existing_file, help="a saved model (.npz): its architecture and dtype")
    mine.add_argument("--batch", type=positive_int, default=256, help="rows per step (default 256)")
    mine.add_argument("--dtype", choices=("float32", "float64"), help="default float32, or the model's")
    mine.add_argument("--activation", default="relu", help="hidden activation with --hidden (default relu)")
    mine.add_argument("--steps", type=positive_int, help="steps per timed call (default: about 0.3 GFLOP, 5 to 200)")
    mine.add_argument("--fastest", action="store_true",
                      help="pick the fastest backend for this network, batch, dtype and precision (what "
                           "backend='fastest' uses; cached per machine in $BPX_CACHE_DIR, else ~/.cache/bpx) and "
                           "print the figures, every rejected backend's reason and the cache file")
    mine.add_argument("--planned-steps", type=positive_int,
                      help="with --fastest: the training steps the run will take, against which each backend's "
                           "compile time counts (default 1000)")
    mine.add_argument("--precision", choices=("bf16", "fp16"), help="with --fastest: mixed precision (default none, "
                                                                     "or the model's)")
    mine.add_argument("--refresh", action="store_true", help="with --fastest: time again even when a choice is cached")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(run=run, parser=parser)
    return parser


def _network(args):
    """(sizes, activation, output, loss, dtype, precision) of --model or --hidden; None when neither is given."""
    if args.model and args.hidden:
        raise ValueError("give --hidden (with --features, --classes) or --model, not both")
    if args.model:
        import bpx

        net = bpx.load(args.model, backend="numpy")
        return (net.layer_sizes, net.activation, net.output, net.loss_name, args.dtype or net.dtype,
                args.precision or net.precision)
    if args.hidden:
        from bpx.nn._activations import get_activation

        get_activation(args.activation)  # a clear error before any work
        return ([args.features, *args.hidden, args.classes], args.activation, "softmax", "cross_entropy",
                args.dtype or "float32", args.precision)
    return None


def run(args):
    import bpx.tools._bench as bench

    refuse_overwrite(args.parser, {"--output": args.output, "--json": args.json, "--plot": args.plot},
                     {"--model": args.model})
    network = _network(args)
    for flag in ("refresh", "planned_steps", "precision"):
        if getattr(args, flag) and not args.fastest:
            raise ValueError(f"--{flag.replace('_', '-')} goes with --fastest")

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
    if args.fastest:
        return _fastest(args, network)
    with bench.clock(args.clock):
        report = _report(args, network, log)
    _emit(args, bench.format_table(report), report)
    if args.plot:
        bench.plot(report, args.plot)
    return 0


def _emit(args, table, report):
    """The table on stdout (with ``--json -``, the JSON instead, as ``bpx parity --json -``), and the files
    of --output and --json."""
    import json

    if args.json == "-":
        print(json.dumps(report, indent=2))
    else:
        print(table)
    if args.output:
        with open(args.output, "w") as f:
            f.write(table)
    if args.json and args.json != "-":
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


def _report(args, network, log):
    """The report of --hidden/--model (bench.run_network), else of the workloads (bench.run)."""
    import bpx.tools._bench as bench

    if network is not None:
        sizes, activation, output, loss, dtype, _ = network
        return bench.run_network(sizes, args.batch, dtype, specs=args.backends, activation=activation, output=output,
                                 loss=loss, steps=args.steps, repeats=args.repeats, warmup=args.warmup,
                                 roof=args.peers is None or "roof" in args.peers, log=log, threads=args.threads)
    return bench.run(workloads=args.workloads, specs=args.backends, peers=args.peers, repeats=args.repeats,
                     warmup=args.warmup, quick=args.quick, tiny_steps=args.tiny_steps, samples=args.samples,
                     sweep_widths=args.widths, sweep_batches=args.batches, sweep_dtypes=args.dtypes, log=log,
                     threads=args.threads)


def _fastest(args, network):
    """``--fastest``: backend='fastest''s choice for this network (default: the standard MLP), its figures, every
    rejected backend's reason and the cache file."""
    import bpx
    from bpx.backends import Fastest
    from bpx.tools._bench import N_CLASSES, N_FEATURES

    standard = ([N_FEATURES, 512, 512, N_CLASSES], "relu", "softmax", "cross_entropy", args.dtype or "float32",
                args.precision)  # workload (b)'s network
    sizes, activation, output, loss, dtype, precision = network or standard
    request = Fastest(batch=args.batch, planned_steps=args.planned_steps or Fastest.planned_steps,
                      candidates=args.backends, refresh=args.refresh)
    choice = bpx.MLP(sizes, activation=activation, output=output, loss=loss, dtype=dtype, precision=precision,
                     backend=request).backend.chosen_by
    lines = [choice.describe(), "", f"cache: {choice.cache_file}", "",
             "| backend | planned run s | samples/s | µs/step | compile s |", "|---|---:|---:|---:|---:|"]
    for spec, f in sorted(choice.figures.items(), key=lambda kv: kv[1]["planned_s"]):
        lines.append(f"| {spec}{' (picked)' if spec == choice.picked else ''} | {f['planned_s']:.3g} | "
                     f"{f['samples_per_s']:,.0f} | {f['us_per_step']:.1f} | {f.get('compile_s') or 0:.2f} |")
    lines += [f"| {spec} | rejected: {why} | | | |" for spec, why in choice.rejected.items()]
    _emit(args, "\n".join(lines) + "\n", {"fastest": choice.as_dict()})
    return 0
