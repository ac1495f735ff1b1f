"""Mixed-precision throughput: bpx float32, bpx float32 with TF32, bpx bf16 and fp16 (precision=...) against
PyTorch's own training loop in float32 and under ``torch.autocast`` (bf16 and fp16) on the same
network, batch and optimizer (Adam). Made for a GPU (run by benchmarks/device_check.sh); it runs on a
CPU too (``--device cpu``, small sizes) to check the script itself.

    python benchmarks/mixed_precision.py [--specs torch:cuda,jax:gpu] [--sizes 784,2048,2048,10]
        [--batch 1024] [--steps 200] [--output mixed_precision.md]

Each row: samples/s over ``--steps`` training steps after a warm-up (compiled runs compile in the warm-up),
and the ratio to bpx float32 on the same backend. bpx fp16 trains with its dynamic loss scaling
(bpx.loss_scaling); the autocast fp16 row uses torch.amp.GradScaler, as torch recommends. Each row is
printed, and appended to ``--output``, as soon as it is measured (a run cut short keeps its rows).

float32 rows run under bpx's matmul-precision rule (full float32 on every backend). The "float32 + TF32"
row runs in a fresh process with ``BPX_TF32=1``, bpx's one opt-in switch: CuPy reads ``CUPY_TF32`` once,
at its first matmul, so TF32 can only be switched on for CuPy before it starts (bpx sets ``CUPY_TF32=1``
from ``BPX_TF32=1`` then), and the same fresh process gives torch and JAX the same treatment.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

import bpx


def _sync(net):
    bpx.to_numpy(net.params[0][:1, :1])


def bpx_rate(spec, sizes, batch, steps, precision=None, tf32=False):
    """Samples/s of ``steps`` bpx training steps (``fit`` over ``steps`` batches, one epoch); with ``tf32``,
    measured in a fresh process with ``BPX_TF32=1`` (see the module docstring)."""
    if tf32:
        return _in_fresh_process(spec, sizes, batch, steps, precision)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch * steps, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch * steps)
    net = bpx.MLP(sizes, backend=spec, seed=0, precision=precision)
    Xd, yd = net.backend.asarray(X), y
    net.fit(Xd[: batch * 5], yd[: batch * 5], epochs=1, batch_size=batch, optimizer=bpx.Adam(1e-3), verbose=0)
    net.fit(Xd, yd, epochs=1, batch_size=batch, optimizer=bpx.Adam(1e-3), verbose=0)  # compiles this shape
    _sync(net)
    start = time.perf_counter()
    net.fit(Xd, yd, epochs=1, batch_size=batch, optimizer=bpx.Adam(1e-3), verbose=0)
    _sync(net)
    return batch * steps / (time.perf_counter() - start)


def _in_fresh_process(spec, sizes, batch, steps, precision):
    env = {**os.environ, "BPX_TF32": "1"}
    code = (f"import json, sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
            f"import mixed_precision as m; print(json.dumps(m.bpx_rate({spec!r}, {list(sizes)!r}, {batch}, {steps}, "
            f"{precision!r})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"the BPX_TF32=1 process failed: {out.stderr.strip().splitlines()[-1:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def torch_rate(device, sizes, batch, steps, autocast=None):
    """Samples/s of a plain PyTorch loop (Linear/ReLU, cross-entropy, Adam), float32 or under autocast."""
    import torch

    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(autocast)
    scaler = torch.amp.GradScaler(device, enabled=autocast == "fp16")
    X = torch.randn(steps, batch, sizes[0], device=device)
    y = torch.randint(0, sizes[-1], (steps, batch), device=device)

    def run(n):
        for i in range(n):
            with torch.autocast(device_type=device, dtype=dtype, enabled=dtype is not None):
                loss = torch.nn.functional.cross_entropy(model(X[i]), y[i])
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        if device == "cuda":
            torch.cuda.synchronize()

    run(min(10, steps))
    start = time.perf_counter()
    run(steps)
    return batch * steps / (time.perf_counter() - start)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--specs", default="torch:cuda,jax:gpu")
    p.add_argument("--sizes", default="784,2048,2048,10")
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--output", default=None)
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    header = [f"network {sizes}, batch {args.batch}, Adam, {args.steps} steps timed", "",
              "| backend | run | samples/s | vs bpx float32 |", "|---|---|---:|---:|"]
    if args.output:
        with open(args.output, "w") as f:
            f.write("\n".join(header) + "\n")
    print("\n".join(header), flush=True)

    def row(*cells):
        line = "| " + " | ".join(cells) + " |"
        print(line, flush=True)
        if args.output:
            with open(args.output, "a") as f:
                f.write(line + "\n")

    failed = 0
    for spec in args.specs.split(","):
        try:
            bpx.get_backend(spec)
        except ValueError as exc:
            row(spec, "-", f"not usable: {str(exc).splitlines()[0][:80]}", "")
            continue
        base = bpx_rate(spec, sizes, args.batch, args.steps)
        row(spec, "bpx float32", f"{base:,.0f}", "1.00")
        for label, kw in (("bpx float32 + TF32 (BPX_TF32=1)", {"tf32": True}), ("bpx bf16", {"precision": "bf16"}),
                          ("bpx fp16", {"precision": "fp16"})):
            try:
                rate = bpx_rate(spec, sizes, args.batch, args.steps, **kw)
                row(spec, label, f"{rate:,.0f}", f"{rate / base:.2f}")
            except ValueError as exc:
                row(spec, label, f"refused: {str(exc)[:120]}", "")
            except RuntimeError as exc:
                failed += 1
                row(spec, label, f"failed: {str(exc)[:120]}", "")
        if spec.startswith("torch"):
            device = "cuda" if "cuda" in spec else "cpu"
            for autocast in (None, "bf16", "fp16"):
                label = "torch float32" if autocast is None else f"torch.autocast {autocast}"
                try:
                    rate = torch_rate(device, sizes, args.batch, args.steps, autocast)
                    row(spec, label, f"{rate:,.0f}", f"{rate / base:.2f}")
                except RuntimeError as exc:
                    row(spec, label, f"failed: {str(exc)[:80]}", "")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
