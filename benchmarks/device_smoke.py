"""The device check's smoke run (benchmarks/device_check.sh, section "smoke"): per backend, seconds.

    PYTHONPATH=. python benchmarks/device_smoke.py torch:cuda [jax:gpu cupy ...]

For each backend spec and for float32 and float64 (where the device has it): a small network trained
3 shuffled epochs with dropout on the backend and on NumPy from one seed must end at the same
parameters (float64 within 1e-10, float32 within 1e-4, the parity tests' tolerances), every parameter
and every prediction must live on the backend's device, and ``predict`` must agree. Hidden host syncs
are reported, not refused: torch:cuda runs the fits under ``torch.cuda.set_sync_debug_mode("warn")``
(syncs per step = syncs of a 16-step fit minus those of an 8-step fit, over 8), JAX under
``jax.transfer_guard("log")`` (its log lines land in this script's stderr). Exit status: the number of
failed checks (0: every claim held).
"""

from __future__ import annotations

import contextlib
import sys
import time
import warnings

import array_api_compat
import numpy as np

import bpx

SIZES = [20, 32, 5]
TOLERANCE = {"float32": dict(rtol=1e-4, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}


def data(m=256, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, SIZES[0]))
    return X, (X[:, :SIZES[-1]].argmax(axis=1) + rng.integers(0, 2, m)) % SIZES[-1]


def train(spec, dtype, X, y, epochs=3, batch=32):
    net = bpx.MLP(SIZES, backend=spec, dtype=dtype, seed=0, dropout=0.1)
    net.fit(X, y, epochs=epochs, batch_size=batch, optimizer=bpx.Adam(1e-2), verbose=0)
    return net


@contextlib.contextmanager
def watching(backend):
    """The library's hidden-sync reporter around the block: yields a list that gets the torch sync warnings."""
    seen = []
    if backend.name == "torch" and getattr(backend.device, "type", None) == "cuda":
        import torch

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                yield seen
            finally:
                torch.cuda.set_sync_debug_mode("default")
        seen.extend(str(w.message) for w in caught if "synchroniz" in str(w.message).lower())
    elif backend.name == "jax":
        import jax

        with jax.transfer_guard("log"):
            yield seen
    else:
        yield seen


def check(spec):
    failures, backend = 0, bpx.get_backend(spec)
    X, y = data()
    for dtype in ("float32", "float64"):
        if not backend.has_dtype(dtype):
            print(f"{spec} {dtype}: skipped, the device has no {dtype}")
            continue
        start = time.perf_counter()
        ours, reference = train(backend, dtype, X, y), train("numpy", dtype, X, y)
        worst = max(float(np.max(np.abs(bpx.to_numpy(a) - b) / (np.abs(b) + 1e-30)))
                    for a, b in zip(ours.params, reference.params))
        try:
            for a, b in zip(ours.params, reference.params):
                np.testing.assert_allclose(bpx.to_numpy(a), b, **TOLERANCE[dtype])
            verdict = "ok"
        except AssertionError:
            verdict, failures = "FAILED", failures + 1
        print(f"{spec} {dtype}: parameters after 3 epochs vs NumPy {verdict} (largest relative difference {worst:.2e})")
        predicted = ours.predict(X)
        places = {str(array_api_compat.device(p)) for p in ours.params} | {str(array_api_compat.device(predicted))}
        if places != {str(backend.device)}:
            failures += 1
            print(f"{spec} {dtype}: arrays live on {sorted(places)}, not only on {backend.device}: FAILED")
        else:
            print(f"{spec} {dtype}: every parameter and prediction on {backend.device}: ok")
        agree = float(np.mean(bpx.to_numpy(predicted) == reference.predict(X)))
        if agree < 0.99:
            failures += 1
        print(f"{spec} {dtype}: predictions agree with NumPy on {agree:.1%} of rows: {'ok' if agree >= 0.99 else 'FAILED'}")
        syncs = []
        for steps in (8, 16):
            net = bpx.MLP(SIZES, backend=backend, dtype=dtype, seed=0)
            Xd, yd = backend.asarray(X[: steps * 16], dtype), backend.asarray(y[: steps * 16])
            net.fit(Xd, yd, epochs=1, batch_size=16, verbose=0)  # compiled where it compiles: the watched fit reuses it
            with watching(backend) as seen:
                net.fit(Xd, yd, epochs=1, batch_size=16, verbose=0)
            syncs.append(len(seen))
        print(f"{spec} {dtype}: host syncs reported per step: {(syncs[1] - syncs[0]) / 8:g} "
              f"(per 8-step fit {syncs[0]}; torch:cuda counts them, jax logs transfers to stderr) "
              f"in {time.perf_counter() - start:.1f} s")
    return failures


def main(specs):
    failures = 0
    for spec in specs:
        try:
            failures += check(spec)
        except Exception as exc:  # a backend that cannot even run the smoke: a failed check, the others go on
            failures += 1
            print(f"{spec}: FAILED with {type(exc).__name__}: {exc}")
    print(f"smoke: {failures} failed check(s)")
    return min(failures, 100)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["numpy"]))
