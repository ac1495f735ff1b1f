"""bpx on Dask against the NumPy backend on the same cores: full-batch steps of 784 -> 256 -> 10.

    PYTHONPATH=. python benchmarks/dask_scaling.py [--rows 200000] [--steps 5] [--workers 2] [--json out.json]

Three implementations of the same full-batch gradient-descent step (softmax + cross-entropy, float32,
X of --rows x 784 random pixels, one-hot Y), timed side by side in one run:

* ``numpy``: ``bpx.MLP(backend="numpy").fit(batch_size=None)`` with ``--workers`` BLAS threads;
* ``bpx-dask``: ``bpx.MLP(backend="dask")``'s step (one task per row chunk running the network's own
  forward/backward, a tree sum, the update on the client) on a LocalCluster of ``--workers`` processes
  x 1 thread (1 BLAS thread each), X persisted on the workers;
* ``dask-plain``: the same step written by hand with dask.array expressions (X @ W1 + b1, ..., X.T @ dZ1),
  as a Dask user would, on the same cluster and data.

Reported: seconds per step and samples/s (median of --steps), the Dask overhead per step (wall time minus
the busiest worker's task compute time, from the task stream), the bytes moved per step (between
workers, from their transfer logs, plus the parameters each step sends and the sums it gets back), the
workers' peak RSS, and for NumPy the extra memory ``fit`` allocates (tracemalloc peak beyond X).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import tracemalloc

import numpy as np

CHUNK_ROWS = 25_000  # 200,000 rows: 8 chunks of 75 MiB, 4 per worker


def make_chunk(start, stop):
    """Rows start..stop-1 of the data set (made where they are needed: the workers make their own chunks)."""
    return np.random.default_rng(start).random((stop - start, 784), dtype=np.float32)


def bounds(rows):
    return [(a, min(a + CHUNK_ROWS, rows)) for a in range(0, rows, CHUNK_ROWS)]


def make_data(rows, seed=0):
    X = np.concatenate([make_chunk(a, b) for a, b in bounds(rows)])
    y = np.random.default_rng(seed).integers(0, 10, rows)
    return X, y


def numpy_step_function(X, y):
    """One full-batch step of bpx on NumPy (``fit`` for one epoch), and the extra memory it allocates."""
    import bpx

    net = bpx.MLP([784, 256, 10], backend="numpy", seed=0)
    net.fit(X[:1000], y[:1000], epochs=1, batch_size=None, optimizer=bpx.SGD(lr=0.1), verbose=0)  # warm-up

    def step():
        net.fit(X, y, epochs=1, batch_size=None, optimizer=bpx.SGD(lr=0.1), verbose=0)

    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    step()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return step, peak


def worker_bytes(client):
    def moved(dask_worker):
        return sum(entry.get("total", 0) for entry in dask_worker.transfer_incoming_log)

    return sum(client.run(moved).values())


def worker_peak_rss(client):
    import resource

    return client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def timed_step(client, step):
    """Wall time of one step, the busiest worker's compute time in it, and the worker-to-worker bytes."""
    from distributed import get_task_stream

    before = worker_bytes(client)
    with get_task_stream(client) as ts:
        t = time.perf_counter()
        step()
        wall = time.perf_counter() - t
    per_worker = {}
    for task in ts.data:
        for ss in task["startstops"]:
            if ss["action"] == "compute":
                per_worker[task["worker"]] = per_worker.get(task["worker"], 0.0) + ss["stop"] - ss["start"]
    return wall, max(per_worker.values()), worker_bytes(client) - before


def summary(runs):
    walls, busy, moved = zip(*runs)
    return {"seconds_per_step": statistics.median(walls),
            "overhead_per_step": statistics.median([w - b for w, b in zip(walls, busy)]),
            "worker_to_worker_bytes_per_step": statistics.median(moved), "times": list(walls)}


def dask_runs(X, y, steps, workers):
    """Round robin: a NumPy step, a bpx-dask step, a hand-written Dask step, --steps times (machine load
    hits all alike; the workers idle during the NumPy step)."""
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster

    import bpx
    import bpx.training.engines._dask_math as bd

    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      env=env) as cluster, Client(cluster) as client:
        Xd = da.concatenate([da.from_delayed(dask.delayed(make_chunk)(a, b), shape=(b - a, 784), dtype=np.float32)
                             for a, b in bounds(X.shape[0])])  # the same rows as X, made on the workers
        Yd = da.from_array(np.eye(10, dtype=np.float32)[y], chunks=(Xd.chunks[0], -1))
        Xd, Yd = dask.persist(Xd, Yd)
        dask.compute(Xd.sum(), Yd.sum())  # on the workers now
        out = {"chunks": len(Xd.chunks[0]), "chunk_rows": int(Xd.chunks[0][0])}

        # bpx on Dask: the fit's own step (bpx.distributed), the update on the client
        net = bpx.MLP([784, 256, 10], backend="dask", seed=0)
        opt = bpx.SGD(lr=0.1)
        math_ = bd.ChunkNet(net)
        width = math_.n_values + 2

        def bpx_step():
            sums = dask.compute(bd.reduce_chunks(bd.chunk_gradients, Xd, Yd, bd.share(net), math_, width))[0]
            grads = bd.unflatten(sums[:-2] / Xd.shape[0], math_.shapes)
            net.params = opt.step(net.params, grads)

        bpx_step()  # warm-up

        # the same step written by hand with dask.array
        rng = np.random.default_rng(0)
        W1 = (rng.standard_normal((784, 256)) / 28).astype(np.float32)
        b1 = np.zeros(256, np.float32)
        W2 = (rng.standard_normal((256, 10)) / 16).astype(np.float32)
        b2 = np.zeros(10, np.float32)

        def plain_step():
            nonlocal W1, b1, W2, b2
            dW1, db1, dW2, db2 = dask.compute(*plain_gradients(Xd, Yd, W1, b1, W2, b2))
            W1, b1, W2, b2 = W1 - 0.1 * dW1, b1 - 0.1 * db1, W2 - 0.1 * dW2, b2 - 0.1 * db2

        plain_step()
        from threadpoolctl import threadpool_limits

        with threadpool_limits(workers, user_api="blas"):
            numpy_step, numpy_peak = numpy_step_function(X, y)
            runs = {"numpy": [], "bpx-dask": [], "dask-plain": []}
            for _ in range(steps):
                t = time.perf_counter()
                numpy_step()
                runs["numpy"].append(time.perf_counter() - t)
                runs["bpx-dask"].append(timed_step(client, bpx_step))
                runs["dask-plain"].append(timed_step(client, plain_step))
        out["numpy"] = {"seconds_per_step": statistics.median(runs["numpy"]), "fit_extra_peak_bytes": numpy_peak,
                        "times": runs["numpy"]}
        out["bpx-dask"] = {**summary(runs["bpx-dask"]), "parameter_bytes_sent_per_step": 4 * math_.n_values,
                           "sum_bytes_per_chunk": 4 * width}
        out["dask-plain"] = {**summary(runs["dask-plain"]), "tasks_per_step": tasks(plain_gradients(Xd, Yd, W1, b1, W2, b2))}
        # end to end: a 3-epoch fit (persist, one finiteness pass, 3 steps)
        t = time.perf_counter()
        bpx.MLP([784, 256, 10], backend="dask", seed=0).fit(Xd, y, epochs=3, batch_size=None,
                                                               optimizer=bpx.SGD(lr=0.1), verbose=0)
        out["bpx-dask"]["fit_3_epochs_seconds"] = time.perf_counter() - t
        out["bpx-dask"]["tasks_per_step"] = tasks([bd.reduce_chunks(bd.chunk_gradients, Xd, Yd, bd.share(net), math_,
                                                              width)])
        out["worker_peak_rss_bytes"] = worker_peak_rss(client)
    return out


def plain_gradients(Xd, Yd, W1, b1, W2, b2):
    """The hand-written Dask step: forward, softmax + cross-entropy delta, backward, as dask.array expressions."""
    import dask.array as da

    Z1 = Xd @ W1 + b1
    A1 = da.maximum(Z1, 0)
    Z2 = A1 @ W2 + b2
    E = da.exp(Z2 - Z2.max(axis=1, keepdims=True))
    dZ2 = (E / E.sum(axis=1, keepdims=True) - Yd) / Xd.shape[0]
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    return [Xd.T @ dZ1, dZ1.sum(axis=0), A1.T @ dZ2, dZ2.sum(axis=0)]


def tasks(arrays):
    """Tasks in the (unoptimised) graph of ``arrays``, persisted inputs excluded."""
    keys = set()
    for a in arrays:
        keys |= set(dict(a.__dask_graph__()))
    return len(keys)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json")
    args = p.parse_args()
    X, y = make_data(args.rows)
    load = os.getloadavg()
    result = {"rows": args.rows, "layers": [784, 256, 10], "dtype": "float32", "workers": args.workers,
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "load_before": load, "X_bytes": X.nbytes}
    result.update(dask_runs(X, y, args.steps, args.workers))
    result["load_after"] = os.getloadavg()
    flops = 6 * args.rows * (784 * 256 + 256 * 10)
    for name in ("numpy", "bpx-dask", "dask-plain"):
        r = result[name]
        r["samples_per_s"] = args.rows / r["seconds_per_step"]
        r["gflops"] = flops / r["seconds_per_step"] / 1e9
    np_s = result["numpy"]["seconds_per_step"]
    print(f"{args.rows} x 784 -> 256 -> 10 float32, full batch; {args.workers} workers x 1 thread vs NumPy with "
          f"{args.workers} BLAS threads; load average {load[0]:.1f} before, {result['load_after'][0]:.1f} after")
    print(f"X: {X.nbytes / 2**20:.0f} MiB in {result['chunks']} chunks of {result['chunk_rows']} rows")
    print(f"{'':12} {'s/step':>8} {'samples/s':>10} {'vs numpy':>9} {'overhead s':>10} {'w2w MB':>8} {'tasks':>6}")
    for name in ("numpy", "bpx-dask", "dask-plain"):
        r = result[name]
        print(f"{name:12} {r['seconds_per_step']:8.3f} {r['samples_per_s']:10.0f} {np_s / r['seconds_per_step']:8.2f}x "
              f"{r.get('overhead_per_step', float('nan')):10.3f} "
              f"{r.get('worker_to_worker_bytes_per_step', float('nan')) / 1e6:8.2f} {r.get('tasks_per_step', ''):>6}")
    print(f"bpx-dask: parameters {result['bpx-dask']['parameter_bytes_sent_per_step'] / 1e6:.2f} MB per step to the "
          f"tasks, {result['bpx-dask']['sum_bytes_per_chunk'] / 1e6:.2f} MB of sums per chunk; 3-epoch fit "
          f"{result['bpx-dask']['fit_3_epochs_seconds']:.1f} s")
    print(f"peak memory: NumPy fit allocates {result['numpy']['fit_extra_peak_bytes'] / 2**20:.0f} MiB beyond X "
          f"({X.nbytes / 2**20:.0f} MiB); workers' peak RSS "
          + ", ".join(f"{v / 2**20:.0f} MiB" for v in result["worker_peak_rss_bytes"].values()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, default=str)


if __name__ == "__main__":
    main()
