"""A one-epoch ``fit`` of the digits network (64-128-10, batch 32, float32) on JAX against its compiled epoch
alone (``bpx.training._step.Compiled``'s epoch on the same data), interleaved, this process's CPU time; prints both
medians and their ratio: what ``fit`` costs outside the compiled epoch.

    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" python benchmarks/speed_jax_fit.py
"""

import statistics
import time

import jax
import numpy as np

import bpx
import bpx.tools._bench as bench
import bpx.training._step as bstep

CLOCK = time.process_time
X, Y, _ = bench.synthetic_data(1797, 64, 10)
net = bpx.MLP([64, 128, 10], backend="jax", dtype="float32")
Xd, Yd = net.backend.asarray(X, "float32"), net.backend.asarray(Y, "float32")
opt = bpx.SGD(lr=0.1)


def fit():
    net.fit(Xd, Yd, epochs=1, batch_size=32, optimizer=opt, verbose=0)


fit()
compiled = bstep.Compiled.get(net, opt)
order = np.random.default_rng(0).permutation(1797).astype(np.int32)
coefs = bstep._coefs(net, opt, 1, 57)


def epoch():
    jax.block_until_ready(compiled.epoch(list(net.params), opt.state, coefs, Xd, Yd, order, None, None, 32))


epoch()
times = {"fit": [], "epoch": []}
for _ in range(41):
    for name, fn in (("fit", fit), ("epoch", epoch)):
        start = CLOCK()
        fn()
        times[name].append(CLOCK() - start)
for name, t in times.items():
    print(f"{name}: median {statistics.median(t) * 1e3:.3f} ms, min {min(t) * 1e3:.3f} ms")
print(f"fit / compiled epoch: {statistics.median(times['fit']) / statistics.median(times['epoch']):.2f}")
