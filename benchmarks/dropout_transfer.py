"""Bytes moved host -> device per training step for dropout masks (issue 26, item 5).

    PYTHONPATH=. python benchmarks/dropout_transfer.py [--backend torch] [--sizes 784,512,512,10]
        [--batch 256] [--dropout 0.5] [--steps 20]

Counts every host array handed to the backend's library (``from_host`` and, where it exists,
``transfer``) during an eager fit of ``--steps`` batches, with dropout and without, and prints the
difference per step: the masks' bytes. Works on any bpx (run it against an older checkout with
PYTHONPATH=<that checkout> to compare): it wraps the library entry, never bpx's internals.
"""

from __future__ import annotations

import argparse

import numpy as np

import bpx


def moved_per_step(spec, sizes, batch, dropout, steps):
    backend = bpx.get_backend(spec)
    library = type(backend.library)
    moved = {"bytes": 0, "calls": 0}
    wrapped = {}
    for name in ("from_host", "transfer"):
        # a library's own transfer; the default one goes through from_host (counted once, there)
        original = library.__dict__.get(name) if name == "transfer" else getattr(library, name)
        if original is None:
            continue
        wrapped[name] = library.__dict__.get(name)

        def counting(self, xp, host, *rest, _original=original):
            moved["bytes"] += int(np.asarray(host).nbytes)
            moved["calls"] += 1
            return _original(self, xp, host, *rest)

        setattr(library, name, counting)
    try:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((batch * steps, sizes[0])).astype(np.float32)
        y = rng.integers(0, sizes[-1], batch * steps)
        net = bpx.MLP(sizes, backend=spec, seed=0, dropout=dropout)
        Xd, yd = net.backend.asarray(X), net.backend.asarray(y)
        before = dict(moved)
        net.fit(Xd, yd, epochs=1, batch_size=batch, shuffle=False, verbose=0)
        return (moved["bytes"] - before["bytes"]) / steps, (moved["calls"] - before["calls"]) / steps
    finally:
        for name, original in wrapped.items():
            if original is None:
                delattr(library, name)
            else:
                setattr(library, name, original)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="torch")
    p.add_argument("--sizes", default="784,512,512,10")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    with_masks, calls = moved_per_step(args.backend, sizes, args.batch, args.dropout, args.steps)
    without, calls0 = moved_per_step(args.backend, sizes, args.batch, 0.0, args.steps)
    hidden = sum(sizes[1:-1])
    print(f"bpx {bpx.__version__} from {bpx.__file__}")
    print(f"{args.backend}, network {sizes}, batch {args.batch}, dropout {args.dropout}: "
          f"{with_masks - without:,.0f} bytes and {calls - calls0:.1f} transfers of dropout masks per step "
          f"({(with_masks - without) / (args.batch * hidden):.3f} bytes per hidden unit and row)")


if __name__ == "__main__":
    main()
