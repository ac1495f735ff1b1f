"""Run the bpx benchmarks: ``python benchmarks/run.py [bpx bench options]``.

The same harness as ``bpx bench`` (bpx/tools/_bench.py); by default it writes the markdown table, the JSON
results and the plot next to this script (benchmarks/results.md, .json, .png).
"""

from __future__ import annotations

import sys
from pathlib import Path

from bpx.cli import main

HERE = Path(__file__).parent


def run(argv):
    defaults = []
    if "--json" not in argv:
        defaults += ["--json", str(HERE / "results.json")]
    if "--plot" not in argv:
        defaults += ["--plot", str(HERE / "results.png")]
    if "--output" not in argv:
        defaults += ["--output", str(HERE / "results.md")]
    return main(["bench", *argv, *defaults])


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
