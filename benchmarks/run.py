"""Run the bpx benchmarks: ``python benchmarks/run.py [bpx bench options]``.

The same harness and options as ``bpx bench`` (bpx/tools/_bench.py). A full run writes the markdown
table, the JSON results and the plot that the docs include, next to this script
(benchmarks/results.md, .json, .png). A ``--quick`` run (a smoke test with shrunken sizes) or a run of
your own network (``--hidden``/``--model``, ``--fastest``) writes them under benchmarks/quick/ instead,
so it never replaces the committed results; ``--output``, ``--json`` and ``--plot`` (``--json=PATH``
too) choose the files yourself, and ``--results-dir DIR`` moves all three.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bpx.cli import ArgumentParser, run_command
from bpx.cli import bench as bench_cli

HERE = Path(__file__).parent
PROG = "python benchmarks/run.py"


def parser():
    """``bpx bench``'s parser under this script's name, plus ``--results-dir``."""
    top = ArgumentParser(prog=PROG)
    bench = bench_cli.add_parser(top.add_subparsers(dest="command", parser_class=ArgumentParser))
    bench.prog = PROG
    bench.description = (f"{PROG}: bpx bench, writing results.md/.json/.png next to this script (a --quick run or "
                         f"your own network: under benchmarks/quick/). " + (bench.description or ""))
    bench.add_argument("--results-dir", metavar="DIR", type=Path,
                       help="where results.md/.json/.png go unless --output/--json/--plot say otherwise "
                            "(default benchmarks/, or benchmarks/quick/ for --quick and your own network)")
    return bench


def run(argv):
    args = parser().parse_args(argv)
    args.command, args.argv = "bench", list(argv)
    partial = args.quick or args.hidden or args.model or args.fastest
    folder = args.results_dir or (HERE / "quick" if partial else HERE)
    folder.mkdir(parents=True, exist_ok=True)
    args.output = args.output or str(folder / "results.md")
    args.json = args.json or str(folder / "results.json")
    if args.plot is None and not args.fastest:
        args.plot = str(folder / "results.png")
    return run_command(args)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
