"""Dask out of core: train on a folder of .npz shards that is never loaded whole.

Writes 8 shards of 5,000 samples (20 features, 2 classes) to a temporary folder, opens them lazily with
``bpx.datasets.open_dask`` (one row chunk per shard, read by the tasks from the files), trains a
20 -> 32 -> 2 network full-batch on the dask backend, and trains the same network on the NumPy backend
with the shards concatenated in memory. Prints both final losses and the largest parameter difference,
and draws ``dask_out_of_core.png``: the two loss curves, and how the steps are split into tasks.

On a cluster, connect a ``distributed.Client`` first (or ``bpx train --backend dask --scheduler ...``):
the code does not change. Needs dask[array] (``pip install 'bpx[dask]'``) and matplotlib.

    python examples/dask_out_of_core.py [--figures DIR]
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

import bpx
from bpx.datasets import open_dask

SHARDS, ROWS, FEATURES, EPOCHS = 8, 5_000, 20, 30


def write_shards(folder):
    rng = np.random.default_rng(0)
    for k in range(SHARDS):
        X = rng.standard_normal((ROWS, FEATURES))
        y = (X[:, 0] * X[:, 1] + 0.5 * X[:, 2] > 0).astype(np.int64)
        np.savez(Path(folder) / f"part-{k:03d}.npz", X=X, y=y)


def train(backend, X, y):
    net = bpx.MLP([FEATURES, 32, 2], activation="tanh", backend=backend, dtype="float64", seed=0)
    history = net.fit(X, y, epochs=EPOCHS, batch_size=None, optimizer=bpx.SGD(lr=0.5, momentum=0.9), verbose=0)
    return net, history


def main(figures):
    with tempfile.TemporaryDirectory() as folder:
        write_shards(folder)
        data = open_dask(folder)  # lazy: nothing read yet
        chunks = data.X.chunks[0]
        print(f"{len(chunks)} row chunks of {chunks[0]} rows, X {data.X.shape} read lazily from {SHARDS} shards")
        dask_net, dask_history = train("dask", data.X, data.y)
        files = sorted(Path(folder).glob("*.npz"))
        X = np.concatenate([np.load(f)["X"] for f in files])
        y = np.concatenate([np.load(f)["y"] for f in files])
        numpy_net, numpy_history = train("numpy", X, y)
    drift = max(float(np.max(np.abs(bpx.to_numpy(p) - bpx.to_numpy(q)))) for p, q in zip(dask_net.params, numpy_net.params))
    print(f"final loss: dask {dask_history.loss[-1]:.6f}, numpy {numpy_history.loss[-1]:.6f}; "
          f"max parameter difference {drift:.1e}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    epochs = np.arange(1, EPOCHS + 1)
    left.plot(epochs, numpy_history.loss, lw=3, alpha=0.5, label="NumPy, in memory")
    left.plot(epochs, dask_history.loss, "--", label="Dask, shards on disk")
    left.set(xlabel="epoch (one full-batch step)", ylabel="loss", title=f"same steps (max |ΔW| {drift:.0e})")
    left.legend()
    right.bar(np.arange(len(chunks)), chunks)
    right.set(xlabel="row chunk (one task per chunk per step)", ylabel="rows",
              title="each step: one task per shard + tree reduction")
    fig.tight_layout()
    Path(figures).mkdir(parents=True, exist_ok=True)
    fig.savefig(Path(figures) / "dask_out_of_core.png", dpi=100, metadata={"Software": None})
    print(f"wrote {Path(figures) / 'dask_out_of_core.png'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", default=".", help="folder for the PNG (default: here)")
    main(parser.parse_args().figures)
