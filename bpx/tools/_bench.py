"""The benchmark harness behind ``bpx bench`` and ``benchmarks/run.py`` (one implementation for both).

Workloads (issue 5):

(a) ``tiny``: the 2-2-2 worked example's sigmoid network (MSE, SGD lr 0.5), 10,000 single-sample steps in
    float64: the per-step overhead, reported in µs/step.
(b) ``standard``: MLP 784-512-512-10, ReLU, softmax + cross-entropy, SGD lr 0.1, batch 256, float32,
    60,000 synthetic samples (fixed seed): throughput in samples/s, one epoch per repeat.
(c) ``sweep``: 784-W-W-10 for width W in 128/512/2048 × batch 32/256/2048 × float32/float64.
(d) ``digits``: the digits network 64-128-10, ReLU, softmax + cross-entropy, SGD lr 0.1, batch 32,
    float32, 1,797 synthetic samples (the size of the digits set) per epoch: where per-step Python
    overhead (and on a GPU, kernel launches) dominates, and compiled epochs (bpx[jax]) pay most.

Your own network (``bpx bench --hidden 512,512 --features 784 --classes 10 --batch 256``, or ``--model M.npz``;
:func:`run_network`): that network, batch and dtype timed on every usable backend, each against its own
GEMM roof (the backend's matmul at the step's shapes), with the ratio to the fastest backend and the
compile time. (``backend="fastest"`` times its choice itself, below the model: :func:`bpx.training.time_backends`.)

Backends that compile (``ArrayLibrary.compiled``: bpx[jax]) compile on their first call, which the
warm-up absorbs; its time is reported apart (``first_call_s``, and ``compile_s`` = first call minus the
steady-state median), so the steady-state figures compare like with like.

Every workload is timed for each implementation in the same process: every usable bpx backend
(``bpx.MLP.fit``), a hand-written NumPy loop of the same network (:class:`HandLoop`, the cost of being
generic), PyTorch autograd + ``torch.optim.SGD`` on the same device (threads set to numpy's BLAS
threads), scikit-learn's ``MLPClassifier(solver="sgd")`` doing the same work (one ``partial_fit`` is one
epoch), and the GEMM roof: the backend's own matmul at exactly the shapes of the step's GEMMs. A
step does 3L-1 GEMMs (the input layer's dX is never formed), ``2·m·(2·Σ n_in·n_out + Σ_{l≥2} n_in·n_out)``
FLOPs (≈ 6·m·Σ n_in·n_out); achieved GFLOP/s and the roof use this same count, so the fraction of the
roof is the GEMM time over the step time.

Timing: warm-up calls first (never counted), then the median of ``repeats`` calls. On a GPU the device
is synchronized before reading the clock (torch.cuda.synchronize, CuPy's current stream).

This module is host-side code: it uses numpy, torch and scikit-learn directly.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

from .._version import __version__
from ..backends import available_backends, get_backend, to_numpy
from ..backends._backend import in_device_context
from ..backends._fastest import cpu_model
from ..models import MLP
from ..optimizers import SGD
from ._info import DISTRIBUTIONS, blas_info
from ._info import version as _version

WORKLOADS = ("a", "b", "c", "d")
WORKLOAD_NAMES = {"a": "tiny", "b": "standard", "c": "sweep", "d": "digits"}
DIGITS_SIZES, DIGITS_SAMPLES = [64, 128, 10], 1797
SWEEP_WIDTHS = (128, 512, 2048)
SWEEP_BATCHES = (32, 256, 2048)
SWEEP_DTYPES = ("float32", "float64")
N_FEATURES, N_CLASSES = 784, 10


# -- machine ---------------------------------------------------------------------------------------
def blas_threads():
    """The thread count of numpy's BLAS (os.cpu_count() when threadpoolctl cannot tell)."""
    pools = blas_info() or []
    return int(pools[0]["num_threads"]) if pools else (os.cpu_count() or 1)


def machine_info(torch=True):
    """Everything recorded with each result: machine, versions, BLAS, threads, environment (torch's threads and
    GPU name when ``torch``, or when torch is imported already)."""
    env = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES")
    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "bpx": __version__,
        "versions": {name: _version(name) for name in DISTRIBUTIONS if _version(name)},
        "blas": blas_info() or [],
        "blas_threads": blas_threads(),
        "environment": {k: os.environ[k] for k in env if k in os.environ},
    }
    with contextlib.suppress(OSError, AttributeError):
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]  # other work on the machine skews timings
    with contextlib.suppress(ImportError):
        if not torch and "torch" not in sys.modules:
            raise ImportError("torch is not used here")  # importing it costs seconds
        import torch as torch_module

        info["torch_threads"] = torch_module.get_num_threads()
        if torch_module.cuda.is_available():
            info["gpu"] = torch_module.cuda.get_device_name(0)
    return info


# -- timing ----------------------------------------------------------------------------------------
def synchronizer(backend):
    """A function that waits for the device of ``backend`` (a bpx Backend, or a torch.device) to finish.

    CPU backends need nothing; CUDA work is asynchronous, so the clock is read only after this."""
    if hasattr(backend, "synchronize"):
        return backend.synchronize
    if getattr(backend, "type", None) == "cuda":
        import torch

        return lambda: torch.cuda.synchronize(backend)
    return lambda: None


def measure(fn, repeats=3, warmup=1, sync=None):
    """Median seconds of ``fn()`` over ``repeats`` calls after ``warmup`` uncounted calls (at least one:
    the first call, with its allocations, compilation and caches, is never counted)."""
    sync = sync or (lambda: None)
    for _ in range(max(1, warmup)):
        fn()
        sync()
    times = []
    for _ in range(max(1, repeats)):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_CLOCK = {"name": "wall"}


@contextlib.contextmanager
def clock(name="wall"):
    """Within this context the timings read ``name``'s clock: ``"wall"`` (perf_counter, the default) or ``"cpu"``
    (this process's CPU time, all threads: on a machine loaded by other work it leaves out the time spent
    waiting for a core; only for CPU backends, as a GPU works while the process waits)."""
    if name not in CLOCKS:
        raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, got {name!r}")
    before = _CLOCK["name"]
    _CLOCK["name"] = name
    try:
        yield
    finally:
        _CLOCK["name"] = before


def measure_interleaved(jobs, repeats=3, warmup=1, first=None):
    """``{name: (median seconds, times)}`` for ``jobs = {name: (fn, sync or None)}``, timed round-robin: every
    job is warmed up (uncounted), then each repeat times every job once, so a change in the machine's load
    (other processes on a shared box) hits all implementations alike instead of skewing their ratios.
    ``first``, a dict, receives each job's first (warm-up) call time: compilation, allocations, caches."""
    noop = lambda: None  # noqa: E731
    now = CLOCKS[_CLOCK["name"]]
    for name, (fn, sync) in jobs.items():
        for k in range(max(1, warmup)):
            start = now()
            fn()
            (sync or noop)()
            if k == 0 and first is not None:
                first[name] = now() - start
    times = {name: [] for name in jobs}
    for _ in range(max(1, repeats)):
        for name, (fn, sync) in jobs.items():
            sync = sync or noop
            sync()
            start = now()
            fn()
            sync()
            times[name].append(now() - start)
    return {name: (statistics.median(t), t) for name, t in times.items()}


# -- data and FLOPs --------------------------------------------------------------------------------
def synthetic_data(n, n_features=N_FEATURES, n_classes=N_CLASSES, seed=0, dtype="float32"):
    """Fixed-seed synthetic classification data: X (n, n_features) in [0, 1), Y one-hot (n, n_classes)
    and the integer labels (n,)."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, n_features), dtype=np.float64).astype(dtype)
    labels = rng.integers(0, n_classes, n)
    Y = np.zeros((n, n_classes), dtype=dtype)
    Y[np.arange(n), labels] = 1
    return X, Y, labels


def gemm_shapes(sizes, m):
    """The (rows, inner, cols) of every GEMM in one training step of a batch of ``m``:
    Z = A @ W per layer, dW = Aᵀ @ dZ per layer, dA = dZ @ Wᵀ for every layer but the first."""
    shapes = []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        shapes.append(("forward", m, n_in, n_out))
        shapes.append(("dW", n_in, m, n_out))
        if l:
            shapes.append(("dA", m, n_out, n_in))
    return shapes


def step_flops(sizes, m):
    """The GEMM FLOPs of one step: 2·rows·inner·cols summed over :func:`gemm_shapes` (≈ 6·m·Σ n_in·n_out)."""
    return sum(2 * r * k * c for _, r, k, c in gemm_shapes(sizes, m))


# -- implementations -------------------------------------------------------------------------------
def _np_sigmoid(Z):
    return 1.0 / (1.0 + np.exp(-Z))


class HandLoop:
    """The same network written directly in NumPy: forward, the four backprop equations and the SGD
    update, for relu/sigmoid hidden layers and softmax+cross-entropy or sigmoid+MSE outputs. It
    computes the batch cost every step, as ``fit`` does. This is the reference for "the cost of
    being generic"; tests check it matches ``bpx.MLP`` parameter for parameter."""

    def __init__(self, params, activation="relu", output="softmax", lr=0.1):
        self.W = [np.array(p, copy=True) for p in params[0::2]]
        self.b = [np.array(p, copy=True) for p in params[1::2]]
        self.activation, self.output, self.lr = activation, output, lr

    @property
    def params(self):
        return [p for pair in zip(self.W, self.b) for p in pair]

    def step(self, X, Y):
        """One forward/backward/update; returns the batch cost (a numpy scalar)."""
        m, L, lr = X.shape[0], len(self.W), self.lr
        A, As, Zs = X, [X], []
        for l in range(L):
            Z = A @ self.W[l] + self.b[l]
            if l < L - 1:
                A = np.maximum(Z, 0.0) if self.activation == "relu" else _np_sigmoid(Z)
            elif self.output == "softmax":
                shifted = Z - Z.max(axis=1, keepdims=True)
                E = np.exp(shifted)
                S = E.sum(axis=1, keepdims=True)
                A = E / S
            else:
                A = _np_sigmoid(Z)
            Zs.append(Z)
            As.append(A)
        if self.output == "softmax":
            cost = -(Y * (shifted - np.log(S))).sum() / m
            dZ = (A - Y) / m
        else:  # sigmoid + MSE (the 2-2-2 worked example)
            D = A - Y
            cost = (D * D).sum() / (2.0 * m)
            dZ = D / m * A * (1.0 - A)
        for l in range(L - 1, -1, -1):
            dW, db = As[l].T @ dZ, dZ.sum(axis=0)
            if l:
                dA = dZ @ self.W[l].T
                if self.activation == "relu":
                    dZ = dA * (Zs[l - 1] > 0)
                else:
                    dZ = dA * As[l] * (1.0 - As[l])
            self.W[l] -= lr * dW
            self.b[l] -= lr * db
        return cost

    def epoch(self, X, Y, batch, order=None):
        """One pass over (X, Y) in batches (rows ``order`` if given); returns the summed cost."""
        total = 0.0
        for i in range(0, X.shape[0], batch):
            if order is None:
                Xb, Yb = X[i:i + batch], Y[i:i + batch]
            else:
                idx = order[i:i + batch]
                Xb, Yb = X[idx], Y[idx]
            total += self.step(Xb, Yb) * Xb.shape[0]
        return total


def _torch_model(sizes, dtype, device, activation="relu"):
    import torch

    layers = []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(n_in, n_out))
        if l < len(sizes) - 2:
            layers.append(torch.nn.ReLU() if activation == "relu" else torch.nn.Sigmoid())
    return torch.nn.Sequential(*layers).to(device=device, dtype=getattr(torch, dtype))


class TorchPeer:
    """PyTorch autograd + torch.optim.SGD on the same work (loss accumulated on the device, read
    once per epoch, as ``fit`` does)."""

    def __init__(self, sizes, dtype, device="cpu", lr=0.1, activation="relu", output="softmax", seed=0):
        import torch

        torch.manual_seed(seed)
        self.torch, self.device, self.output = torch, torch.device(device), output
        self.model = _torch_model(sizes, dtype, self.device, activation)
        if output == "sigmoid":
            self.model.append(torch.nn.Sigmoid())
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr)
        self.dtype = getattr(torch, dtype)

    def data(self, X, Y, labels):
        t = self.torch
        y = t.as_tensor(labels, device=self.device) if self.output == "softmax" else t.as_tensor(Y, device=self.device)
        return t.as_tensor(X, device=self.device, dtype=self.dtype), y

    def epoch(self, X, y, batch, shuffle=True):
        t = self.torch
        m = X.shape[0]
        order = t.randperm(m, device=self.device) if shuffle else None
        total = t.zeros((), device=self.device, dtype=self.dtype)
        for i in range(0, m, batch):
            if order is None:
                Xb, yb = X[i:i + batch], y[i:i + batch]
            else:
                idx = order[i:i + batch]
                Xb, yb = X.index_select(0, idx), y.index_select(0, idx)
            self.opt.zero_grad(set_to_none=True)
            out = self.model(Xb)
            if self.output == "softmax":
                loss = t.nn.functional.cross_entropy(out, yb)
            else:
                loss = 0.5 * ((out - yb) ** 2).sum() / Xb.shape[0]
            loss.backward()
            self.opt.step()
            total += loss.detach() * Xb.shape[0]
        return float(total)


@contextlib.contextmanager
def torch_threads(n):
    """Run torch with ``n`` intra-op threads (numpy's BLAS thread count), restoring it afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)


def sklearn_peer(sizes, batch, lr, seed=0):
    """MLPClassifier doing the same work: relu, SGD lr, no momentum, no L2, no early stopping; one
    ``partial_fit`` call is one epoch over the data (shuffled, as sklearn's sgd solver does)."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), activation="relu", solver="sgd", alpha=0.0,
                         batch_size=batch, learning_rate="constant", learning_rate_init=lr, momentum=0.0,
                         nesterovs_momentum=False, early_stopping=False, shuffle=True, max_iter=1, random_state=seed)


def gemm_roof_fn(xp, sizes, m, dtype, device=None, inner=1):
    """A function doing ``inner`` times exactly the GEMMs of one step in ``xp`` (same shapes, same transposes)."""
    rng = np.random.default_rng(1)

    def arr(shape):
        host = rng.random(shape).astype(dtype)
        return xp.asarray(host) if device is None else xp.asarray(host, device=device)

    ops = []
    for kind, r, k, c in gemm_shapes(sizes, m):
        if kind == "dW":  # Aᵀ @ dZ with A (m, n_in): a transposed view, as the step has it
            ops.append((arr((k, r)).T, arr((k, c))))
        elif kind == "dA":  # dZ @ Wᵀ with W (n_in, n_out)
            ops.append((arr((r, k)), arr((c, k)).T))
        else:
            ops.append((arr((r, k)), arr((k, c))))

    def run():
        for _ in range(inner):
            for a, b in ops:
                a @ b

    return run


def own_roof_fn(backend, sizes, m, dtype, inner=1):
    """The GEMM roof of a bpx ``backend``: :func:`gemm_roof_fn` in its namespace, or, for a library that
    compiles (``ArrayLibrary.compiled``: JAX), the same GEMMs ``inner`` times compiled as one loop, as its
    training epochs are (eager JAX pays a dispatch per matmul, which its compiled step never does, and would
    make a roof lower than the step). Each pass adds a loop-carried scalar (zero to working precision) to the
    left operands, so the compiler can neither hoist the products out of the loop nor merge the passes."""
    if not backend.library.compiled:
        return gemm_roof_fn(backend.xp, sizes, m, dtype, backend.device, inner)
    library, xp = backend.library, backend.xp
    rng = np.random.default_rng(1)
    ops = []
    for kind, r, k, c in gemm_shapes(sizes, m):
        a = rng.random((k, r) if kind == "dW" else (r, k)).astype(dtype)
        b = rng.random((c, k) if kind == "dA" else (k, c)).astype(dtype)
        ops.append((backend.asarray(a, dtype), backend.asarray(b, dtype), kind))

    def body(carry, _):
        total = carry
        for a, b, kind in ops:
            left = (a + carry).T if kind == "dW" else a + carry
            out = left @ (b.T if kind == "dA" else b)
            total = total + 1e-30 * out[0, 0]
        return total, None

    loop = library.jit(lambda carry, steps: library.scan(body, carry, steps)[0])
    carry, steps = xp.zeros((), dtype=backend.dtype(dtype), device=backend.device), xp.zeros(inner, device=backend.device)
    return lambda: library.block(loop(carry, steps))


def gemm_roof(xp, sizes, m, dtype, device=None, repeats=3, warmup=1, sync=None, inner=1):
    """GFLOP/s of ``xp``'s matmul doing exactly the GEMMs of one step (same shapes, same transposes)."""
    seconds, _ = measure(gemm_roof_fn(xp, sizes, m, dtype, device, inner), repeats, warmup, sync)
    return step_flops(sizes, m) * inner / seconds / 1e9


# -- the workloads ---------------------------------------------------------------------------------
def _record(workload, impl, dtype, sizes, batch, samples, seconds, times, steps, **extra):
    flops = step_flops(sizes, batch) * steps
    rec = {"workload": workload, "impl": impl, "dtype": dtype, "sizes": list(sizes), "batch": batch,
           "samples": samples, "steps": steps, "seconds": seconds, "times": times,
           "samples_per_s": samples / seconds, "us_per_step": seconds / steps * 1e6, "gflops": flops / seconds / 1e9}
    rec.update(extra)
    return rec


def roof_figures(gflops, roof, name):
    """``roof`` (``name``: which library's matmuls) and the fraction of it reached, which a ceiling keeps at
    most 1: a step that outran the roof measured in the same rounds means the roof was measured low (noise,
    a loaded machine), and the roof is then the step's own rate (``roof_capped``), never a fraction above 1."""
    out = {"roof": name, "roof_gflops": roof, "roof_fraction": gflops / roof}
    if gflops > roof:
        out.update(roof_gflops=gflops, roof_fraction=1.0, roof_capped=True, roof_measured_gflops=roof)
    return out


def _compile_info(impl, first, seconds, compiled):
    """``first_call_s`` and ``compile_s`` (first call minus the steady-state median) of a compiling backend."""
    if impl not in compiled or impl not in first:
        return {}
    return {"first_call_s": first[impl], "compile_s": max(0.0, first[impl] - seconds)}


def _compiling(spec):
    return get_backend(spec).library.compiled


def _on_cpu(spec):
    device = get_backend(spec).device
    return getattr(device, "platform", None) == "cpu" or str(device) == "cpu"


def _usable(spec, dtype):
    try:
        return get_backend(spec).has_dtype(dtype)
    except ValueError:
        return False


def run_throughput(workload, sizes, batch, dtype, samples, specs, peers, repeats, warmup, lr=0.1, seed=0, log=None,
                   roof_flops=3e9):
    """One (sizes, batch, dtype) point of workloads (b)/(c): every bpx backend and every peer, timed
    interleaved (see :func:`measure_interleaved`)."""
    X, Y, labels = synthetic_data(samples, sizes[0], sizes[-1], seed=seed, dtype=dtype)
    steps = -(-samples // batch)
    jobs, extra = {}, {}
    for spec in specs:
        if not _usable(spec, dtype):
            continue
        net = MLP(sizes, backend=spec, dtype=dtype, seed=seed)
        Xd, Yd = net.backend.asarray(X, dtype), net.backend.asarray(Y, dtype)
        jobs[f"bpx[{spec}]"] = (functools.partial(net.fit, Xd, Yd, epochs=1, batch_size=batch, optimizer=SGD(lr=lr),
                                                  verbose=0), synchronizer(net.backend))
    if "hand" in peers:
        net = MLP(sizes, backend="numpy", dtype=dtype, seed=seed)
        hand, rng = HandLoop([to_numpy(p) for p in net.params], lr=lr), np.random.default_rng(seed)
        jobs["numpy hand loop"] = (lambda: hand.epoch(X, Y, batch, rng.permutation(samples)), None)
    for device in _torch_devices(peers):
        peer = TorchPeer(sizes, dtype, device, lr=lr, seed=seed)
        Xt, yt = peer.data(X, Y, labels)
        jobs[f"torch[{device}]"] = (functools.partial(peer.epoch, Xt, yt, batch), synchronizer(peer.device))
        extra[f"torch[{device}]"] = {"threads": _torch_num_threads()}
    if "sklearn" in peers:
        clf, classes = sklearn_peer(sizes, batch, lr, seed), np.arange(sizes[-1])
        jobs["sklearn MLPClassifier"] = (functools.partial(clf.partial_fit, X, labels, classes=classes), None)
    roofs = {}
    if "roof" in peers:
        import array_api_compat.numpy as xnp

        # enough GEMM calls per timing that small shapes are not all clock overhead
        inner = max(1, min(200, int(roof_flops // step_flops(sizes, batch))))
        roofs["numpy GEMM roof"] = (inner, ("bpx[numpy", "numpy hand", "sklearn"))
        jobs["numpy GEMM roof"] = (gemm_roof_fn(xnp, sizes, batch, dtype, inner=inner), None)
        for device in _torch_devices(peers):
            if device != "cpu":
                import torch

                name = f"torch[{device}] GEMM roof"
                roofs[name] = (inner, (f"torch[{device}]", f"bpx[torch:{device}]", "bpx[cupy]"))
                jobs[name] = (gemm_roof_fn(torch, sizes, batch, dtype, torch.device(device), inner),
                              synchronizer(torch.device(device)))
        for spec in specs:  # accelerator and compiling backends against their own matmuls (this GPU's, XLA's)
            backend = get_backend(spec) if _usable(spec, dtype) else None
            if backend and not backend.library.lazy and (not _on_cpu(spec) or backend.library.compiled):
                name = f"bpx[{spec}] GEMM roof"
                roofs[name] = (inner, (f"bpx[{spec}]",))
                roof = own_roof_fn(backend, sizes, batch, dtype, inner)
                jobs[name] = (in_device_context(backend, roof), synchronizer(backend))  # bpx's precision (no TF32)
    first, compiled = {}, {f"bpx[{spec}]" for spec in specs if _compiling(spec)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's ConvergenceWarning for one epoch of partial_fit
        timings = measure_interleaved(jobs, repeats, warmup, first)
    records = []
    for impl, (sec, times) in timings.items():
        if impl in roofs:
            continue
        rec = _record(workload, impl, dtype, sizes, batch, samples, sec, times, steps, **extra.get(impl, {}),
                      **_compile_info(impl, first, sec, compiled))
        records.append(rec)
        if log:
            log(f"  {workload} {sizes} batch {batch} {dtype} {impl:22} {rec['samples_per_s']:12,.0f} samples/s")
    for name, (inner, prefixes) in roofs.items():
        sec, times = timings[name]
        roof = step_flops(sizes, batch) * inner / sec / 1e9
        for rec in records:
            if rec["impl"].startswith(prefixes):
                rec.update(roof_figures(rec["gflops"], roof, name))
        records.append({"workload": workload, "impl": name, "dtype": dtype, "sizes": list(sizes), "batch": batch,
                        "samples": samples, "steps": steps, "gflops": roof, "gemm_seconds_per_step": sec / inner, "times": times,
                        "samples_per_s": roof * 1e9 / step_flops(sizes, batch) * batch})
    return records


def _torch_num_threads():
    import torch

    return torch.get_num_threads()


def _torch_devices(peers):
    return [p.split(":", 1)[1] for p in peers if p.startswith("torch:")]


def run_tiny(specs, peers, steps, repeats, warmup, log=None):
    """Workload (a): the 2-2-2 worked example's 2-2-2 sigmoid/MSE network, ``steps`` single-sample SGD steps, float64
    (float32 on a device without float64), all implementations timed interleaved."""
    sizes, lr, dtype = [2, 2, 2], 0.5, "float64"
    x, y = np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])
    X, Y = np.repeat(x, steps, axis=0), np.repeat(y, steps, axis=0)
    params = [np.array([[0.15, 0.25], [0.20, 0.30]]), np.array([0.35, 0.35]),
              np.array([[0.40, 0.50], [0.45, 0.55]]), np.array([0.60, 0.60])]
    jobs, meta = {}, {}  # meta: impl -> (dtype, steps, extra)
    for spec in specs:
        dt = dtype if _usable(spec, dtype) else "float32"
        if not _usable(spec, dt):
            continue
        net = MLP(sizes, activation="sigmoid", output="sigmoid", loss="mse", backend=spec, dtype=dt)
        net.set_params(params)
        # array_api_strict validates every operation (~2 ms a step): a tenth of the steps gives the same µs/step
        n = max(1, steps // 10) if spec.startswith("array_api_strict") else steps
        Xd, Yd = net.backend.asarray(X[:n], dt), net.backend.asarray(Y[:n], dt)
        jobs[f"bpx[{spec}]"] = (functools.partial(net.fit, Xd, Yd, epochs=1, batch_size=1, optimizer=SGD(lr=lr),
                                                  shuffle=False, verbose=0), synchronizer(net.backend))
        meta[f"bpx[{spec}]"] = (dt, n, {})
    if "hand" in peers:
        hand = HandLoop(params, activation="sigmoid", output="sigmoid", lr=lr)
        jobs["numpy hand loop"] = (functools.partial(hand.epoch, X, Y, 1), None)
        meta["numpy hand loop"] = (dtype, steps, {})
    for device in _torch_devices(peers):
        peer = TorchPeer(sizes, dtype, device, lr=lr, activation="sigmoid", output="sigmoid")
        Xt, yt = peer.data(X, Y, None)
        jobs[f"torch[{device}]"] = (functools.partial(peer.epoch, Xt, yt, 1, shuffle=False), synchronizer(peer.device))
        meta[f"torch[{device}]"] = (dtype, steps, {"threads": _torch_num_threads()})
    records, first, compiled = [], {}, {f"bpx[{spec}]" for spec in specs if _compiling(spec)}
    for impl, (sec, times) in measure_interleaved(jobs, repeats, warmup, first).items():
        dt, n, extra = meta[impl]
        rec = _record("a", impl, dt, sizes, 1, n, sec, times, n, **extra, **_compile_info(impl, first, sec, compiled))
        records.append(rec)
        if log:
            log(f"  a tiny {impl:22} {rec['us_per_step']:10.1f} µs/step")
    return records


def run_network(sizes, batch, dtype="float32", specs=None, activation="relu", output="softmax", loss="cross_entropy",
                steps=None, repeats=3, warmup=1, roof=True, log=None, threads=None):
    """Time one network (``sizes`` input to output, its activations and loss) at ``batch`` rows and ``dtype`` on
    each bpx backend of ``specs`` (default: every usable one but the array-api-strict oracle): one timed call
    is one epoch of ``steps`` SGD steps (default: about 0.3 GFLOP, 5 to 200 steps) over synthetic data, the
    backends timed interleaved (:func:`measure_interleaved`). With ``roof``, each backend's own matmul at
    the step's GEMM shapes is timed in the same rounds (lazy backends have none).

    Returns the report ``{"machine", "config", "results"}``: one record per backend (workload ``"net"``)
    with samples/s, µs/step, GFLOP/s, ``vs_fastest`` (its samples/s over the fastest backend's),
    ``roof_gflops``/``roof_fraction``, and ``first_call_s``/``compile_s`` for compiling backends; a backend
    that fails gets ``{"impl", "error"}`` instead, and the others are still timed."""
    uses_torch = specs is None or any(str(spec).startswith("torch") for spec in specs)
    with thread_limits(threads, torch=uses_torch):
        return _run_network(sizes, batch, dtype, specs, activation, output, loss, steps, repeats, warmup, roof, log)


def _run_network(sizes, batch, dtype, specs, activation, output, loss, steps, repeats, warmup, roof, log):
    sizes = [int(n) for n in sizes]
    if len(sizes) < 2 or any(n < 1 for n in sizes):
        raise ValueError(f"sizes must list at least the input and output widths, all >= 1, got {sizes}")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if specs is None:
        specs = [s for s in default_specs() if not s.startswith("array_api_strict")]
    steps = steps or network_steps(sizes, batch)
    samples = steps * batch
    X, Y, _ = synthetic_data(samples, sizes[0], sizes[-1], dtype=dtype)
    jobs, backends, results, roofs = {}, {}, [], {}
    for spec in specs:
        impl = f"bpx[{spec}]"
        try:
            backend = get_backend(spec)
            if not backend.has_dtype(dtype):
                raise ValueError(f"{spec} has no {dtype} here")
            net = MLP(sizes, activation=activation, output=output, loss=loss, backend=backend, dtype=dtype, seed=0)
            Xd, Yd = backend.asarray(X, dtype), backend.asarray(Y, dtype)
        except (ValueError, TypeError, ImportError) as exc:
            results.append({"workload": "net", "impl": impl, "spec": spec, "error": str(exc)})
            continue
        backends[impl] = backend
        jobs[impl] = (functools.partial(net.fit, Xd, Yd, epochs=1, batch_size=batch, optimizer=SGD(lr=0.01),
                                        shuffle=False, verbose=0), synchronizer(backend))
        if roof and not backend.library.lazy:
            inner = max(1, min(200, int(3e7 // step_flops(sizes, batch))))
            roofs[impl] = inner
            jobs[f"{impl} GEMM roof"] = (own_roof_fn(backend, sizes, batch, dtype, inner), synchronizer(backend))
    first, compiled = {}, {impl for impl, b in backends.items() if b.library.compiled}
    timings = {}
    if jobs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                timings = measure_interleaved(jobs, repeats, warmup, first)
            except Exception:  # one backend failing mid-run: time them one by one, recording the failure
                timings = _one_by_one(jobs, repeats, warmup, first, results)
    for impl in backends:
        if impl not in timings:
            continue
        sec, times = timings[impl]
        rec = _record("net", impl, dtype, sizes, batch, samples, sec, times, steps, spec=backends[impl].spec,
                      **_compile_info(impl, first, sec, compiled))
        if impl in roofs and f"{impl} GEMM roof" in timings:
            roof = step_flops(sizes, batch) * roofs[impl] / timings[f"{impl} GEMM roof"][0] / 1e9
            rec.update(roof_figures(rec["gflops"], roof, f"{impl} GEMM roof"))
        results.append(rec)
    timed = [r for r in results if "samples_per_s" in r]
    best = max((r["samples_per_s"] for r in timed), default=None)
    for r in timed:
        r["vs_fastest"] = r["samples_per_s"] / best
        if log:
            log(f"  net {'-'.join(map(str, sizes))} batch {batch} {dtype} {r['impl']:22} {r['samples_per_s']:12,.0f} samples/s")
    results.sort(key=lambda r: -r.get("samples_per_s", 0.0))
    config = {"workloads": ["net"], "sizes": sizes, "activation": activation, "output": output, "loss": loss,
              "batch": batch, "dtype": dtype, "steps": steps, "specs": list(specs), "repeats": repeats, "warmup": warmup,
              "roof": bool(roof), "clock": _CLOCK["name"]}
    return {"machine": machine_info(torch=any(s.startswith("torch") for s in specs)), "config": config,
            "results": results}


def network_steps(sizes, batch, most=200):
    """Steps per timed call of :func:`run_network` by default: about 0.3 GFLOP, at least 5, at most ``most``."""
    return max(5, min(most, int(3e8 // step_flops(sizes, batch))))


def _one_by_one(jobs, repeats, warmup, first, results):
    """:func:`measure_interleaved` job by job, a failing job recorded in ``results`` (as an error) and left out."""
    timings = {}
    for name, job in jobs.items():
        try:
            timings.update(measure_interleaved({name: job}, repeats, warmup, first))
        except Exception as exc:  # noqa: BLE001 -- a backend's own failure is reported, not raised
            if not name.endswith(" GEMM roof"):
                results.append({"workload": "net", "impl": name, "error": f"{type(exc).__name__}: {exc}"})
    return timings


def format_network_table(report):
    """The markdown report of :func:`run_network`: machine facts, then one row per backend, fastest first."""
    c = report["config"]
    lines = ["## bpx bench: your network", ""] + [f"- {line}" for line in format_header(report["machine"], c)]
    lines += ["", f"### MLP {'-'.join(map(str, c['sizes']))}, {c['activation']} / {c['output']} + {c['loss']}, "
                  f"SGD, batch {c['batch']}, {c['dtype']}, {c['steps']} steps per timed call", "",
              "| backend | samples/s | µs/step | vs fastest | GFLOP/s | own GEMM roof GFLOP/s | fraction of roof | compile s |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report["results"]:
        if "error" in r:
            lines.append(f"| {r['impl']} | failed: {r['error'][:120]} | | | | | | |")
            continue
        lines.append(f"| {r['impl']} | {r['samples_per_s']:,.0f} | {r['us_per_step']:.1f} | {r['vs_fastest']:.2f} | "
                     f"{r['gflops']:.1f} | {_fmt(r.get('roof_gflops'), 1)} | {_fmt(r.get('roof_fraction'), 2)} | "
                     f"{_fmt(r.get('compile_s'), 2)} |")
    return "\n".join(lines) + "\n"


def plot_network(report, path):
    """PNG: samples/s per backend (bars, fastest first), each bar labelled with its fraction of its own roof."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    rows = [r for r in report["results"] if "samples_per_s" in r][::-1]
    fig, ax = plt.subplots(figsize=(8.5, 1.2 + 0.45 * max(1, len(rows))))
    _bars(ax, [r["impl"] for r in rows], [r["samples_per_s"] for r in rows], "samples/s")
    for i, r in enumerate(rows):
        note = f" {r['vs_fastest']:.2f}× fastest" + (f", {r['roof_fraction']:.2f} of own GEMM roof"
                                                     if "roof_fraction" in r else "")
        ax.text(r["samples_per_s"], i, note, va="center", fontsize=8)
    c = report["config"]
    ax.set_title(f"MLP {'-'.join(map(str, c['sizes']))}, batch {c['batch']}, {c['dtype']} — "
                 f"{report['machine']['cpu']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _bars(ax, labels, values, label):
    """Horizontal bars on a linear axis that starts at 0, so a bar's length is its value (0.38× looks like
    0.38×), with room on the right for the labels."""
    ax.barh(labels, values)
    ax.set_xscale("linear")
    ax.set_xlim(0, 1.6 * max(values, default=1.0))
    ax.set_xlabel(f"{label} (linear, from 0)")


def default_specs():
    """Every usable bpx backend (torch on CUDA too when there is one)."""
    specs = list(available_backends())
    if "torch" in specs:
        import torch

        if torch.cuda.is_available():
            specs.append("torch:cuda")
    return specs


def default_peers():
    peers = ["hand", "roof"]
    with contextlib.suppress(ImportError):
        import torch

        peers.append("torch:cpu")
        if torch.cuda.is_available():
            peers.append("torch:cuda")
    with contextlib.suppress(ImportError):
        import sklearn  # noqa: F401

        peers.append("sklearn")
    return peers


@contextlib.contextmanager
def thread_limits(threads=None, torch=True):
    """``threads`` pins numpy's BLAS to that many threads (threadpoolctl; None: as the machine is), and torch
    (bpx[torch] and the peer; with ``torch=False`` only when already imported) gets numpy's BLAS thread
    count, within this context."""
    with contextlib.ExitStack() as stack:
        if threads is not None:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(threads))
        if (importlib.util.find_spec("torch") is not None) if torch else "torch" in sys.modules:
            stack.enter_context(torch_threads(blas_threads()))
        yield


def run(workloads=WORKLOADS, specs=None, peers=None, repeats=3, warmup=1, quick=False, tiny_steps=None,
        samples=None, sweep_widths=None, sweep_batches=None, sweep_dtypes=SWEEP_DTYPES, sweep_specs=None, log=None,
        threads=None):
    """Run the chosen workloads (see :func:`_run`); ``threads`` pins numpy's BLAS (and so torch) to that many
    threads through threadpoolctl (default: as the machine is)."""
    with thread_limits(threads):
        return _run(workloads, specs, peers, repeats, warmup, quick, tiny_steps, samples, sweep_widths, sweep_batches,
                    sweep_dtypes, sweep_specs, log)


def _run(workloads, specs, peers, repeats, warmup, quick, tiny_steps, samples, sweep_widths, sweep_batches,
         sweep_dtypes, sweep_specs, log):
    """Run the chosen workloads; returns ``{"machine": ..., "config": ..., "results": [records]}``.

    ``quick`` shrinks everything (for smoke tests): fewer steps and samples, a smaller sweep.
    ``sweep_specs`` are the bpx backends of the sweep (default: ``specs`` without array_api_strict,
    which adds only its wrapper overhead to numpy's numbers at these sizes)."""
    for w in workloads:
        if w not in WORKLOADS:
            raise ValueError(f"workloads must be among {', '.join(WORKLOADS)} (a tiny, b standard, c sweep, d digits), got {w!r}")
    specs = default_specs() if specs is None else list(specs)
    peers = default_peers() if peers is None else list(peers)
    tiny_steps = tiny_steps or (500 if quick else 10_000)
    samples = samples or (2048 if quick else 60_000)
    sweep_widths = tuple(sweep_widths or ((16, 64) if quick else SWEEP_WIDTHS))
    sweep_batches = tuple(sweep_batches or ((32, 128) if quick else SWEEP_BATCHES))
    if sweep_specs is None:
        sweep_specs = [s for s in specs if not s.startswith("array_api_strict")]
    machine = machine_info()
    results = []
    if "a" in workloads:
        results += run_tiny(specs, peers, tiny_steps, repeats, warmup, log)
    if "b" in workloads:
        sizes = [N_FEATURES, 512, 512, N_CLASSES] if not quick else [N_FEATURES, 64, 64, N_CLASSES]
        results += run_throughput("b", sizes, 256 if not quick else 128, "float32", samples, specs, peers, repeats,
                                  warmup, log=log, roof_flops=3e7 if quick else 3e9)
    if "d" in workloads:
        digits = min(samples, DIGITS_SAMPLES) if quick else DIGITS_SAMPLES
        results += run_throughput("d", DIGITS_SIZES, 32, "float32", digits, specs, [p for p in peers if p != "sklearn"],
                                  repeats, warmup, log=log, roof_flops=3e7 if quick else 3e8)
    if "c" in workloads:
        for dtype in sweep_dtypes:
            for width in sweep_widths:
                for batch in sweep_batches:
                    sizes = [N_FEATURES, width, width, N_CLASSES]
                    # about 3 GFLOP (at least 2 steps) per timed call, so the sweep fits in minutes
                    n = batch * max(2, min(64, int(3e9 // step_flops(sizes, batch))))
                    n = min(n, 4 * batch) if quick else n
                    results += run_throughput("c", sizes, batch, dtype, n, sweep_specs, [p for p in peers if p != "sklearn"],
                                              repeats, warmup, log=log, roof_flops=3e7 if quick else 3e9)
    config = {"workloads": list(workloads), "specs": specs, "sweep_specs": sweep_specs, "peers": peers,
              "repeats": repeats, "warmup": warmup, "quick": quick, "tiny_steps": tiny_steps, "samples": samples,
              "sweep": {"widths": list(sweep_widths), "batches": list(sweep_batches), "dtypes": list(sweep_dtypes)},
              "clock": _CLOCK["name"]}
    return {"machine": machine, "config": config, "results": results}


# -- output ----------------------------------------------------------------------------------------
def _fmt(x, digits=0):
    return "-" if x is None else f"{x:,.{digits}f}"


def _ratio(a, b):
    return None if not a or not b else a / b


def _find(results, workload, impl, **match):
    for r in results:
        if r["workload"] == workload and r["impl"] == impl and all(r.get(k) == v for k, v in match.items()):
            return r
    return None


def summary(report):
    """The project's target ratios, from this run: ``{name: (value, target)}`` (value None if not measured)."""
    res = report["results"]
    out = {}
    a_bpx, a_hand = _find(res, "a", "bpx[numpy]"), _find(res, "a", "numpy hand loop")
    if a_bpx and a_hand:
        out["(a) bpx[numpy] step time / hand loop step time"] = (a_bpx["us_per_step"] / a_hand["us_per_step"], "<= 1.2")
    d_bpx, d_hand = _find(res, "d", "bpx[numpy]"), _find(res, "d", "numpy hand loop")
    if d_bpx and d_hand:
        out["(d) bpx[numpy] step time / hand loop step time"] = (d_bpx["us_per_step"] / d_hand["us_per_step"], "<= 1.2")
    b_bpx = _find(res, "b", "bpx[numpy]")
    if b_bpx:
        for impl, name, target in (("numpy hand loop", "hand loop", ">= 0.95"), ("torch[cpu]", "torch[cpu]", ">= 1.2"),
                                   ("sklearn MLPClassifier", "sklearn MLPClassifier(sgd)", ">= 1.6")):
            peer = _find(res, "b", impl)
            if peer:
                out[f"(b) bpx[numpy] / {name} throughput"] = (b_bpx["samples_per_s"] / peer["samples_per_s"], target)
        if "roof_fraction" in b_bpx:
            out["(b) bpx[numpy] fraction of numpy GEMM roof"] = (b_bpx["roof_fraction"], "-")
    c = _find(res, "c", "bpx[numpy]", batch=256, dtype="float32", sizes=[N_FEATURES, 2048, 2048, N_CLASSES])
    if c and "roof_fraction" in c:
        out["(c) bpx[numpy] fraction of numpy GEMM roof, width 2048 batch 256 float32"] = (c["roof_fraction"], ">= 0.80")
    # compiled epochs (issue 10), against the peers of the same run
    a_jax = _find(res, "a", "bpx[jax]")
    if a_jax:
        out["(a) bpx[jax] µs per step"] = (a_jax["us_per_step"], "<= 1")
        if a_hand:
            out["(a) bpx[jax] step time / hand loop step time"] = (a_jax["us_per_step"] / a_hand["us_per_step"], "-")
    d_jax = _find(res, "d", "bpx[jax]")
    for impl, target in (("bpx[numpy]", ">= 3"), ("numpy hand loop", ">= 1.5"), ("torch[cpu]", ">= 4")):
        peer = _find(res, "d", impl)
        if d_jax and peer:
            out[f"(d) bpx[jax] / {impl} throughput"] = (d_jax["samples_per_s"] / peer["samples_per_s"], target)
    b_jax, b_torch = _find(res, "b", "bpx[jax]"), _find(res, "b", "torch[cpu]")
    if b_jax and b_torch:
        out["(b) bpx[jax] / torch[cpu] throughput"] = (b_jax["samples_per_s"] / b_torch["samples_per_s"], ">= 1.2")
    if b_jax and "roof_fraction" in b_jax:
        out["(b) bpx[jax] fraction of its own (XLA, compiled) GEMM roof"] = (b_jax["roof_fraction"], ">= 0.9")
    return out


def format_header(machine, config):
    blas = ", ".join(f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture', '?')}, "
                     f"{p.get('num_threads')} threads)" for p in machine["blas"]) or "unknown"
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    lines = [f"Machine: {machine['cpu']}, {machine['cores']} cores ({machine['platform']})",
             f"Python {machine['python']}, bpx {machine['bpx']}; {versions}",
             f"BLAS: {blas}; torch threads set to {machine['blas_threads']} (numpy's BLAS threads)"]
    if machine.get("environment"):
        lines.append("Environment: " + ", ".join(f"{k}={v}" for k, v in machine["environment"].items()))
    if machine.get("load_average"):
        lines.append(f"Load average at start (1, 5, 15 min): {', '.join(map(str, machine['load_average']))}")
    if machine.get("gpu"):
        lines.append(f"GPU: {machine['gpu']}")
    lines.append(f"Timing: {config['warmup']} warm-up call(s) uncounted, median of {config['repeats']} repeats"
                 + (" (--quick: shrunken sizes)" if config.get("quick") else "")
                 + ("; clock: this process's CPU time (--clock cpu)" if config.get("clock") == "cpu" else ""))
    return lines


def format_table(report):
    """The markdown report: header, one table per workload, and the target ratios."""
    if report["config"].get("workloads") == ["net"]:
        return format_network_table(report)
    res = report["results"]
    lines = ["## bpx bench", ""] + [f"- {line}" for line in format_header(report["machine"], report["config"])]
    tiny = [r for r in res if r["workload"] == "a"]
    if tiny:
        hand = _find(res, "a", "numpy hand loop")
        lines += ["", f"### (a) tiny: the 2-2-2 worked example, sigmoid/MSE, {tiny[0]['steps']:,} single-sample SGD "
                      "steps, float64",
                  "", "| implementation | µs/step | steps/s | step time / hand loop |", "|---|---:|---:|---:|"]
        for r in tiny:
            ratio = _ratio(r["us_per_step"], hand and hand["us_per_step"])
            note = [r["dtype"]] if r["dtype"] != "float64" else []
            note += [f"{r['steps']:,} steps"] if r["steps"] != tiny[0]["steps"] else []
            lines.append(f"| {r['impl']}{' (' + ', '.join(note) + ')' if note else ''} | "
                         f"{r['us_per_step']:.1f} | {1e6 / r['us_per_step']:,.0f} | {_fmt(ratio, 2)} |")
    for workload, title in (("b", "standard"), ("d", "digits")):
        lines += _throughput_table(res, workload, title)
    sweep = [r for r in res if r["workload"] == "c"]
    if sweep:
        impls = list(dict.fromkeys(r["impl"] for r in sweep))
        lines += ["", "### (c) sweep: MLP 784-W-W-10, relu, softmax+CE, SGD lr 0.1 — samples/s "
                      "(roof: the numpy GEMMs of the step alone)", "",
                  "| dtype | width | batch | " + " | ".join(impls) + " | bpx[numpy] fraction of roof |",
                  "|---|---:|---:|" + "---:|" * (len(impls) + 1)]
        points = list(dict.fromkeys((r["dtype"], r["sizes"][1], r["batch"]) for r in sweep))
        for dtype, width, batch in points:
            row = {r["impl"]: r for r in sweep if (r["dtype"], r["sizes"][1], r["batch"]) == (dtype, width, batch)}
            cells = [_fmt(row[i]["samples_per_s"]) if i in row else "-" for i in impls]
            frac = row.get("bpx[numpy]", {}).get("roof_fraction")
            lines.append(f"| {dtype} | {width} | {batch} | " + " | ".join(cells) + f" | {_fmt(frac, 2)} |")
    first = [r for r in res if "compile_s" in r]
    if first:
        lines += ["", "### Compilation (the first call, never counted above)", "",
                  "| workload | implementation | first call s | compile s (first call − steady median) |",
                  "|---|---|---:|---:|"]
        lines += [f"| {r['workload']} {'-'.join(map(str, r['sizes']))} batch {r['batch']} {r['dtype']} | {r['impl']} | "
                  f"{r['first_call_s']:.2f} | {r['compile_s']:.2f} |" for r in first]
    targets = summary(report)
    if targets:
        lines += ["", "### Ratios and their targets", "", "| ratio | this run | target |", "|---|---:|---:|"]
        lines += [f"| {name} | {value:.2f} | {target} |" for name, (value, target) in targets.items()]
    return "\n".join(lines) + "\n"


def _throughput_table(res, workload, title):
    """The table of a throughput workload ((b) standard, (d) digits), ratios against bpx[numpy]."""
    std = [r for r in res if r["workload"] == workload]
    if not std:
        return []
    s = std[0]
    bpx_np = _find(res, workload, "bpx[numpy]")
    lines = ["", f"### ({workload}) {title}: MLP {'-'.join(map(str, s['sizes']))}, relu, softmax+CE, SGD lr 0.1, "
                 f"batch {s['batch']}, {s['dtype']}, {s['samples']:,} samples (one epoch per repeat)", "",
             "Roof: each implementation's own library's matmuls at the step's GEMM shapes, timed in the same rounds "
             "(numpy's BLAS for bpx[numpy], the hand loop and scikit-learn; XLA compiled for bpx[jax]; the GPU's for "
             "GPU backends); a fraction is at most 1.", "",
             "| implementation | samples/s | s/epoch | µs/step | GFLOP/s | fraction of own GEMM roof | bpx[numpy] / this |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in std:
        ratio = _ratio(bpx_np and bpx_np["samples_per_s"], r["samples_per_s"])
        secs = r.get("seconds")
        lines.append(f"| {r['impl']} | {r['samples_per_s']:,.0f} | {_fmt(secs, 3)} | {_fmt(r.get('us_per_step'), 1)} | "
                     f"{r['gflops']:.1f} | {_fmt(r.get('roof_fraction'), 2)} | {_fmt(ratio, 2)} |")
    return lines


def write_json(report, path):
    with open(path, "w") as f:
        json.dump(report, f, indent=2)


def plot(report, path):
    """PNG: throughput (samples/s, log scale) vs width per implementation, one panel per dtype × batch
    of the sweep (workload (c)); without a sweep, one bar chart of workload (b)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    if report["config"].get("workloads") == ["net"]:
        return plot_network(report, path)
    sweep = [r for r in report["results"] if r["workload"] == "c"]
    if sweep:
        dtypes = list(dict.fromkeys(r["dtype"] for r in sweep))
        batches = list(dict.fromkeys(r["batch"] for r in sweep))
        fig, axes = plt.subplots(len(dtypes), len(batches), figsize=(4.2 * len(batches), 3.4 * len(dtypes)),
                                 squeeze=False, sharex=True)
        for i, dtype in enumerate(dtypes):
            for j, batch in enumerate(batches):
                ax = axes[i][j]
                for impl in dict.fromkeys(r["impl"] for r in sweep):
                    pts = sorted((r["sizes"][1], r["samples_per_s"]) for r in sweep
                                 if r["impl"] == impl and r["dtype"] == dtype and r["batch"] == batch)
                    if pts:
                        ax.plot(*zip(*pts), marker="o", label=impl, linestyle="--" if "roof" in impl else "-")
                ax.set_xscale("log", base=2)
                ax.set_yscale("log")
                ax.set_title(f"{dtype}, batch {batch}", fontsize=9)
                ax.set_xlabel("hidden width")
                ax.set_ylabel("samples/s (log scale)")
                ax.grid(True, which="both", alpha=0.3)
        axes[0][0].legend(fontsize=7)
    else:
        std = [r for r in report["results"] if r["workload"] in ("b", "d", "a")]
        fig, axes = plt.subplots(1, len({r["workload"] for r in std}) or 1, figsize=(7, 3.5), squeeze=False)
        for ax, workload in zip(axes[0], dict.fromkeys(r["workload"] for r in std)):
            rows = [r for r in std if r["workload"] == workload][::-1]
            _bars(ax, [r["impl"] for r in rows], [r["samples_per_s"] for r in rows], "samples/s")
            ax.set_title(f"({workload}) {WORKLOAD_NAMES[workload]}", fontsize=9)
    fig.suptitle(f"bpx bench — {report['machine']['cpu']}, {report['machine']['cores']} cores", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
