"""CSV ingest: bpx's loader (``bpx.datasets.load``, through pyarrow.csv) against pandas with the pyarrow engine.

Writes a numeric CSV of 200,000 rows × 50 columns (49 features and a label; about 92 MB), then reads it
with each reader in a fresh Python process, one after the other, in the same run: the wall time of the
read and the process's peak resident memory (``resource.getrusage(...).ru_maxrss``, which includes the
interpreter and the imports). The target (issue 25): bpx at most 2× pandas' time and 1.5× its peak.

    PYTHONPATH=$PWD python benchmarks/csv_ingest.py [--rows 200000] [--repeat 3] [--keep FILE] [--before DIR]

``--before DIR`` also times ``bpx.datasets.load`` of another checkout (``PYTHONPATH=DIR``), e.g. the
commit before the loader went through Arrow.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

READERS = {  # (imports, the read): only the read is timed; the peak covers both
    "bpx": ("from bpx import datasets", "ds = datasets.load(PATH)\nshape = ds.X.shape"),
    "pandas (pyarrow engine)": ("import pandas as pd", "df = pd.read_csv(PATH, engine='pyarrow')\nshape = df.shape"),
    "numpy.loadtxt": ("import numpy as np", "X = np.loadtxt(PATH, delimiter=',', skiprows=1)\nshape = X.shape"),
}
CHILD = """
import json, resource, sys, time
PATH = sys.argv[1]
{imports}
t0 = time.perf_counter()
{body}
seconds = time.perf_counter() - t0
print(json.dumps({{"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "shape": list(shape)}}))
"""


def write_csv(path, rows, cols=50, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, cols - 1)) * rng.uniform(0.1, 1000, size=cols - 1)
    y = rng.integers(0, 3, size=rows)
    with open(path, "w") as f:
        f.write(",".join([f"f{j}" for j in range(cols - 1)] + ["label"]) + "\n")
        for start in range(0, rows, 20_000):
            block = np.column_stack([X[start:start + 20_000], y[start:start + 20_000]])
            np.savetxt(f, block, delimiter=",", fmt=["%.7g"] * (cols - 1) + ["%d"])
    return os.path.getsize(path)


def measure(name, path, pythonpath=None):
    imports, body = READERS["bpx" if pythonpath else name]
    code = CHILD.format(imports=imports, body=body)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.abspath(pythonpath or os.environ.get("PYTHONPATH") or ".")
    # run from the file's folder: `python -c` puts the working directory first on sys.path
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, check=True, env=env,
                         cwd=os.path.dirname(os.path.abspath(path)))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per reader; the fastest time and smallest peak")
    parser.add_argument("--keep", help="write the CSV here and keep it")
    parser.add_argument("--skip-loadtxt", action="store_true")
    parser.add_argument("--before", metavar="DIR", help="also time bpx.datasets.load of the checkout in DIR")
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    path = args.keep or os.path.join(folder, "numeric.csv")
    size = write_csv(path, args.rows)
    print(f"{path}: {args.rows} rows x 50 columns, {size / 1e6:.1f} MB")
    results = {}
    for name in READERS:
        if name == "numpy.loadtxt" and args.skip_loadtxt:
            continue
        runs = [measure(name, path) for _ in range(args.repeat)]
        results[name] = {"seconds": min(r["seconds"] for r in runs), "peak_mb": min(r["peak_mb"] for r in runs)}
        print(f"{name:26s} {results[name]['seconds']:6.2f} s   peak {results[name]['peak_mb']:7.0f} MB")
    if args.before:
        runs = [measure("before", path, args.before) for _ in range(args.repeat)]
        before = {"seconds": min(r["seconds"] for r in runs), "peak_mb": min(r["peak_mb"] for r in runs)}
        print(f"{'bpx before (' + args.before + ')':26s} {before['seconds']:6.2f} s   peak {before['peak_mb']:7.0f} MB")
    base, ours = results["pandas (pyarrow engine)"], results["bpx"]
    print(f"bpx / pandas: time {ours['seconds'] / base['seconds']:.2f}x (target <= 2), "
          f"peak {ours['peak_mb'] / base['peak_mb']:.2f}x (target <= 1.5)")
    if not args.keep:
        os.remove(path)


if __name__ == "__main__":
    main()
