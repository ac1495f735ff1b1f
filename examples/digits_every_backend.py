"""The bundled digits network (64 -> 128 -> 10) trained on every backend usable here, with a parity plot.

One seed, float64, full-batch SGD with momentum (the same steps on every backend, Dask included), 25
epochs. Prints each backend's test accuracy and its largest parameter difference from NumPy's, and
draws ``digits_every_backend.png``: those differences (with NumPy float32 for scale) and each backend's
test-set probabilities against NumPy's.

    python examples/digits_every_backend.py [--figures DIR]
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("JAX_ENABLE_X64", "1")  # float64 on JAX (bpx never flips JAX's switch itself)

import numpy as np  # noqa: E402

import bpx  # noqa: E402
from bpx.data._preprocessing import stratified_split  # noqa: E402
from bpx.datasets import load_digits  # noqa: E402

EPOCHS = 25


def train(backend, dtype, X, y):
    net = bpx.MLP([64, 128, 10], activation="tanh", backend=backend, dtype=dtype, seed=0)
    net.fit(X, y, epochs=EPOCHS, batch_size=None, optimizer=bpx.SGD(lr=0.5, momentum=0.9), verbose=0)
    return net


def main(figures):
    digits = load_digits()
    train_rows, test_rows = stratified_split(digits.y, 0.2, seed=0)
    X, y = digits.X[train_rows] / 16, digits.y[train_rows]
    Xt, yt = digits.X[test_rows] / 16, digits.y[test_rows]
    runs = [(b, "float64") for b in bpx.available_backends() if b != "cupy"]
    if "cupy" in bpx.available_backends():
        runs.append(("cupy", "float64"))
    runs.append(("numpy", "float32"))
    results = {}
    for backend, dtype in runs:
        start = time.perf_counter()
        data = X
        if backend == "dask":
            import dask.array as da

            data = da.from_array(X, chunks=(480, 64))  # three row chunks
        net = train(backend, dtype, data, y)
        params = [bpx.to_numpy(p).astype(np.float64) for p in net.params]
        proba = bpx.to_numpy(net.predict_proba(Xt)).astype(np.float64)
        accuracy = net.evaluate(Xt, yt)["accuracy"]
        results[(backend, dtype)] = params, proba, accuracy, time.perf_counter() - start
    ref_params, ref_proba, _, _ = results[("numpy", "float64")]
    rows = []
    for (backend, dtype), (params, proba, accuracy, seconds) in results.items():
        drift = max(float(np.max(np.abs(p - q))) for p, q in zip(params, ref_params))
        rows.append((f"{backend} {dtype}", accuracy, drift, proba, seconds))
        print(f"{backend:18s} {dtype}: test accuracy {accuracy:.4f}, max |W - W_numpy64| {drift:.1e} ({seconds:.1f} s)")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    names = [r[0] for r in rows if r[0] != "numpy float64"]
    drifts = [max(r[2], 1e-17) for r in rows if r[0] != "numpy float64"]
    left.barh(names, drifts, color=["tab:orange" if "float32" in n else "tab:blue" for n in names])
    left.set_xscale("log")
    left.set(xlabel=f"max |parameter - NumPy float64's| after {EPOCHS} epochs", title="parity with NumPy (float64 unless named)")
    for name, proba in [(r[0], r[3]) for r in rows if r[0] != "numpy float64"]:
        right.scatter(ref_proba.ravel(), proba.ravel(), s=4, label=name, alpha=0.6)
    right.plot([0, 1], [0, 1], color="grey", lw=0.5)
    right.set(xlabel="NumPy float64: test-set probabilities", ylabel="other backend", title="the same predictions")
    right.legend(markerscale=3, fontsize=8)
    fig.tight_layout()
    Path(figures).mkdir(parents=True, exist_ok=True)
    fig.savefig(Path(figures) / "digits_every_backend.png", dpi=100, metadata={"Software": None})
    print(f"wrote {Path(figures) / 'digits_every_backend.png'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", default=".", help="folder for the PNG (default: here)")
    main(parser.parse_args().figures)
