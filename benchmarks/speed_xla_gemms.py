"""The GEMMs of one training step inside a compiled ``lax.scan``: what XLA's CPU matmuls alone cost per step,
for ``d`` (the digits network 64-128-10, batch 32, 57 steps) or ``b`` (784-512-512-10, batch 256, 47 steps).
The bound a compiled epoch cannot beat on this machine; prints µs/step and GFLOP/s (this process's CPU time).

    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" python benchmarks/speed_xla_gemms.py d
"""

import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import bpx.tools._bench as bench

WORKLOAD = sys.argv[1] if len(sys.argv) > 1 else "d"
SIZES, M, STEPS = ([64, 128, 10], 32, 57) if WORKLOAD == "d" else ([784, 512, 512, 10], 256, 47)
rng = np.random.default_rng(0)


def arr(shape):
    return jnp.asarray(rng.random(shape, dtype=np.float32))


lhs, rhs, kinds = [], [], []  # one left operand per step (scanned over), the right one fixed
for kind, r, k, c in bench.gemm_shapes(SIZES, M):
    lhs.append(arr((STEPS, k, r) if kind == "dW" else (STEPS, r, k)))
    rhs.append(arr((c, k) if kind == "dA" else (k, c)))
    kinds.append(kind)


def body(acc, xs):
    for kind, a, b in zip(kinds, xs, rhs):
        out = a.T @ b if kind == "dW" else (a @ b.T if kind == "dA" else a @ b)
        acc = acc + out[0, 0]
    return acc, None


run = jax.jit(lambda xs: jax.lax.scan(body, jnp.float32(0), xs)[0])
run(lhs).block_until_ready()
times = []
for _ in range(21):
    start = time.process_time()
    run(lhs).block_until_ready()
    times.append(time.process_time() - start)
per_step = statistics.median(times) / STEPS * 1e6
gflops = bench.step_flops(SIZES, M) / per_step / 1e3
print(f"({WORKLOAD}) XLA GEMMs of one step inside a compiled scan: {per_step:.1f} us/step, {gflops:.1f} GFLOP/s")
