#!/usr/bin/env bash
# Prove bpx's GPU paths in one command, on a CUDA machine with no network.
#
#   benchmarks/device_check.sh [LOG_DIR]          (default: $OUT if set, else ./device-check)
#
# Uses only the Python already there (python3, or $PYTHON): nothing is installed from a registry.
# array-api-compat and array-api-strict, often missing on GPU images, may travel as wheels in .whl/
# (see README, "Proving the GPU paths"); they are installed into a private folder, never site-wide.
# Then, for every GPU backend present (cupy, torch:cuda, jax:gpu):
#   1. the whole test suite with BPX_BACKEND=<spec> (JAX with x64 on, so float64 tests run),
#   2. a short `bpx bench` of those backends against PyTorch CUDA eager,
#   3. mixed precision (benchmarks/mixed_precision.py): bpx float32, float32 + TF32, bf16 and fp16 against a PyTorch
#      loop in float32 and under torch.autocast (bf16, fp16 with GradScaler), same network and batch,
# each under a time limit, all within about 8 minutes. Every log lands in LOG_DIR; summary.txt says
# what ran, what passed and what was skipped and why. Exit status: 0 when every suite that ran passed.
set -uo pipefail
cd "$(dirname "$0")/.."
LOG=${1:-${OUT:-device-check}}
PY=${PYTHON:-python3}
SUITE_LIMIT=${BPX_SUITE_LIMIT:-130}   # seconds per backend's suite
BENCH_LIMIT=${BPX_BENCH_LIMIT:-90}
mkdir -p "$LOG"
summary="$LOG/summary.txt"
: >"$summary"
say() { echo "$*" | tee -a "$summary"; }

if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/bpx-site .whl/*.whl \
        >"$LOG/wheels.log" 2>&1 || { say "wheel install failed: see wheels.log"; exit 2; }
    export PYTHONPATH="/tmp/bpx-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 JAX_ENABLE_X64=1

say "bpx device check, $(date -u +%Y-%m-%dT%H:%M:%SZ), git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
(nvidia-smi || echo "no nvidia-smi") >"$LOG/nvidia-smi.txt" 2>&1
say "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo none)"
"$PY" -m bpx info >"$LOG/info.txt" 2>&1 || { say "bpx info failed: see info.txt"; exit 2; }
sed -n '/^backends/,/^$/p' "$LOG/info.txt" | tee -a "$summary"

usable=()
for spec in cupy torch:cuda jax:gpu; do
    if why=$("$PY" -c "import bpx; bpx.get_backend('$spec')" 2>&1); then
        usable+=("$spec")
    else
        say "$spec: not usable here, skipped: $(echo "$why" | tail -1 | sed "s/\. Available here.*//" | cut -c1-300)"
    fi
done
[ ${#usable[@]} -gt 0 ] || { say "no GPU backend is usable: nothing to prove"; exit 1; }

status=0
for spec in "${usable[@]}"; do
    name=${spec//:/-}
    start=$SECONDS
    BPX_BACKEND=$spec timeout -k 10 "$SUITE_LIMIT" "$PY" -m pytest -q -p no:cacheprovider -o addopts="" -rfE \
        --junitxml="$LOG/tests-$name.xml" tests >"$LOG/tests-$name.log" 2>&1
    rc=$?
    [ $rc -eq 0 ] || status=1
    verdict=$(grep -E "(passed|failed|error)" "$LOG/tests-$name.log" | tail -1)
    [ $rc -eq 124 ] && verdict="TIMED OUT after ${SUITE_LIMIT}s ($verdict)"
    say "suite $spec: rc=$rc in $((SECONDS - start)) s: $verdict"
done

backends=$(IFS=,; echo "${usable[*]}")
timeout -k 10 "$BENCH_LIMIT" "$PY" -m bpx bench --quiet --backends "$backends" --workloads a,b --tiny-steps 2000 \
    --samples 30000 --repeats 3 --output "$LOG/bench.md" --json "$LOG/bench.json" >"$LOG/bench.log" 2>&1
say "bench: rc=$? (table in bench.md)"
# mixed precision: bpx float32 / float32+TF32 / bf16 / fp16 vs a PyTorch loop in float32 and under torch.autocast bf16/fp16
timeout -k 10 "$BENCH_LIMIT" "$PY" benchmarks/mixed_precision.py --specs "$backends" --output "$LOG/mixed_precision.md" \
    >"$LOG/mixed_precision.log" 2>&1
say "mixed precision: rc=$? (table in mixed_precision.md)"

# -- speed (issue 20): workloads (a) 2-2-2, (b) 784-512-512-10 and (d) 64-128-10 on every GPU backend, each
# against the GPU's own matmul roof at the step's GEMM shapes (bpx[<spec>] GEMM roof, and torch[cuda]'s when
# torch is there), timed in the same interleaved rounds; then backend="fastest" for (b) and (d) on this machine.
PERF_LIMIT=${BPX_PERF_LIMIT:-150}
peers=hand,roof
"$PY" -c "import torch; assert torch.cuda.is_available()" 2>/dev/null && peers=hand,roof,torch:cuda
timeout -k 10 "$PERF_LIMIT" "$PY" -m bpx bench --quiet --backends "$backends,numpy" --workloads a,b,d --peers "$peers" \
    --tiny-steps 2000 --samples 30000 --repeats 3 --output "$LOG/perf-gpu.md" --json "$LOG/perf-gpu.json" \
    >"$LOG/perf-gpu.log" 2>&1
say "perf (a, b, d vs each GPU's own matmul roof): rc=$? (table in perf-gpu.md)"
for net in "--hidden 512,512 --features 784 --classes 10 --batch 256" "--hidden 128 --features 64 --classes 10 --batch 32"; do
    BPX_CACHE_DIR="$LOG/cache" timeout -k 10 60 "$PY" -m bpx bench --quiet --fastest --refresh $net \
        >>"$LOG/perf-fastest.md" 2>&1
    say "fastest $net: rc=$? ($(grep -o "picked [^ ]*" "$LOG/perf-fastest.md" | tail -1))"
done
exit $status
