"""ONNX export of a 784-512-512-10 network (relu hidden, softmax output, float32): bpx's export
(bpx's forward code recorded on ndonnx, then the lean pass) against ``torch.onnx.export`` of the very
same weights (``bpx.to_torch``; the TorchScript exporter, ``dynamo=False``, which needs no onnxscript).

Prints the node count of each graph (ndonnx's raw graph too) and the onnxruntime latency (median of
repeated runs, one intra-op thread, after warm-up) at batch 1 and 256, with the bpx/torch ratios, and
checks both graphs give the same probabilities. The last column
is bpx's graph as ndonnx records it, before the lean pass. Run once, briefly:

    PYTHONPATH=. python benchmarks/onnx_export.py [--repeat-1 2000] [--repeat-256 200]

Needs ``pip install 'bpx[onnx,torch]'``.
"""

from __future__ import annotations

import argparse
import collections
import io
import statistics
import time
import warnings

import numpy as np

import bpx
from bpx.io._onnx import node_count, onnx_model

SIZES = [784, 512, 512, 10]


def ops(model):
    return ", ".join(f"{op}×{k}" if k > 1 else op for op, k in collections.Counter(n.op_type for n in model.graph.node).items())


def torch_model(net):
    import onnx
    import torch

    module = bpx.to_torch(net, probabilities=True)  # the probabilities, as bpx's ONNX export gives
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(module, (torch.zeros(1, SIZES[0]),), f, dynamo=False, input_names=["X"],
                          output_names=["probabilities"], dynamic_axes={"X": {0: "N"}, "probabilities": {0: "N"}})
    return onnx.load_from_string(f.getvalue())


def latency(session, X, repeat):
    """Median seconds per ``session.run`` on X."""
    for _ in range(max(10, repeat // 20)):
        session.run(None, {"X": X})
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        session.run(None, {"X": X})
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    import onnxruntime as ort

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat-1", type=int, default=2000, help="runs timed at batch 1 (default 2000)")
    parser.add_argument("--repeat-256", type=int, default=200, help="runs timed at batch 256 (default 200)")
    args = parser.parse_args(argv)

    net = bpx.MLP(SIZES, activation="relu", output="softmax", backend="numpy", dtype="float32", seed=0)
    start = time.perf_counter()
    ours = onnx_model(net)
    export_s = time.perf_counter() - start
    raw = onnx_model(net, lean=False)
    peer = torch_model(net)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    sessions = {name: ort.InferenceSession(m.SerializeToString(), options, providers=["CPUExecutionProvider"])
                for name, m in (("bpx", ours), ("torch", peer), ("raw", raw))}

    rng = np.random.default_rng(0)
    X = rng.random((256, SIZES[0]), dtype=np.float32)
    expected = bpx.to_numpy(net.predict_proba(X))
    for name, s in sessions.items():
        if name == "raw":
            continue
        got = s.run(None, {"X": X})[0]
        print(f"{name:5s} probabilities vs net.predict_proba: max |diff| {np.abs(got - expected).max():.2e}")

    print(f"\nnetwork {'-'.join(map(str, SIZES))} relu/softmax float32; onnxruntime {ort.__version__}, 1 thread; "
          f"bpx export took {export_s:.2f} s")
    print(f"{'graph':28s} {'nodes':>6s}  ops")
    print(f"{'bpx (ndonnx, as recorded)':28s} {node_count(raw):>6d}  (If-guarded sub-graphs)")
    print(f"{'bpx (lean)':28s} {node_count(ours):>6d}  {ops(ours)}")
    print(f"{'torch.onnx.export':28s} {node_count(peer):>6d}  {ops(peer)}")
    print(f"{'ratio bpx/torch':28s} {node_count(ours) / node_count(peer):>6.2f}")
    print(f"\n{'batch':>5s} {'bpx µs':>10s} {'torch µs':>10s} {'bpx/torch':>10s} {'as recorded µs':>15s}")
    for batch, repeat in ((1, args.repeat_1), (256, args.repeat_256)):
        t = {name: latency(s, X[:batch], repeat) for name, s in sessions.items()}
        print(f"{batch:>5d} {t['bpx'] * 1e6:>10.1f} {t['torch'] * 1e6:>10.1f} {t['bpx'] / t['torch']:>10.2f} "
              f"{t['raw'] * 1e6:>15.1f}")


if __name__ == "__main__":
    main()
