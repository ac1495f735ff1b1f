#!/usr/bin/env bash
# Prove bpx's GPU claims in one run, on a CUDA machine with no network, in under 8 minutes.
#
#   benchmarks/device_check.sh [LOG_DIR]                 the GPU run (default LOG_DIR: $OUT, else ./device-check)
#   benchmarks/device_check.sh --cpu [LOG_DIR]           the same sections on numpy / torch (CPU) / jax (CPU):
#                                                        the script's plumbing, in under 3 minutes (nox -s device_check_cpu)
#   benchmarks/device_check.sh --fetch-wheels DIR        on a machine with a network: download the wheels of every
#                                                        dependency a GPU image may lack into DIR (default .whl)
#
# Before a GPU run, copy the wheels to .whl/ (or set BPX_WHEELS=DIR): the run installs from there, offline,
# whatever is missing (tqdm, pytest and its dependencies, hypothesis, array-api-compat, array-api-strict), into a
# private folder (never site-wide, never over what is installed). All of them are pure-Python wheels.
#
# Sections, proofs first, each logged with its seconds and its result (LOG_DIR/summary.txt):
#   info      bpx info: versions, usable backends and why not, devices, the matmul precision rule
#   smoke     benchmarks/device_smoke.py per backend: float32/float64 against NumPy, where the arrays live,
#             torch under torch.cuda.set_sync_debug_mode("warn"), JAX under jax.transfer_guard("log")
#   tests     a targeted pytest subset per backend, -rfEs; a run that passes nothing fails
#   bench     one `bpx bench` pass against torch CUDA and each GPU's own matmul roof
#   mixed     benchmarks/mixed_precision.py, each row written as it finishes
#   fastest   backend="fastest" timed for one network
# Every section's result is folded into the exit status: 0 only when every section passed. A global deadline
# (BPX_DEADLINE seconds, default 470 on a GPU, 175 with --cpu) bounds the run; a section the deadline leaves no
# time for fails. BPX_DEVICE_CHECK_SECTIONS=info,smoke runs only those; BPX_DEVICE_CHECK_BREAK=<section> makes
# that section fail on purpose (the test that the exit status is real: tests/test_device_check.py).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# what a GPU image may lack, as (import name, wheel distribution); exceptiongroup/tomli only on Python < 3.11
WHEELS="tqdm:tqdm pytest:pytest _pytest:pytest iniconfig:iniconfig pluggy:pluggy packaging:packaging \
hypothesis:hypothesis attr:attrs sortedcontainers:sortedcontainers array_api_compat:array-api-compat \
array_api_strict:array-api-strict exceptiongroup:exceptiongroup tomli:tomli"

if [ "${1:-}" = "--fetch-wheels" ]; then
    dir=${2:-.whl}
    mkdir -p "$dir"
    dists=$(for pair in $WHEELS; do echo "${pair#*:}"; done | sort -u)
    # pure-Python wheels (py3-none-any): the same files serve any platform and Python 3
    # shellcheck disable=SC2086
    exec "$PY" -m pip download --no-deps --only-binary=:all: --dest "$dir" $dists
fi

MODE=gpu
if [ "${1:-}" = "--cpu" ]; then MODE=cpu; shift; fi
LOG=${1:-${OUT:-device-check}}
mkdir -p "$LOG"
LOG=$(cd "$LOG" && pwd)
summary="$LOG/summary.txt"
: >"$summary"
say() { echo "$*" | tee -a "$summary"; }
T0=$SECONDS
DEADLINE=${BPX_DEADLINE:-$([ $MODE = cpu ] && echo 175 || echo 470)}
SECTIONS=${BPX_DEVICE_CHECK_SECTIONS:-info,smoke,tests,bench,mixed,fastest}
BREAK=${BPX_DEVICE_CHECK_BREAK:-}
status=0

# -- the environment: offline wheels, bpx from this checkout, bpx's numerics rule ------------------------------
WHEEL_DIR=${BPX_WHEELS:-.whl}
SITE="$LOG/site"
missing=""
for pair in $WHEELS; do  # exceptiongroup and tomli are in the standard library from Python 3.11 on
    "$PY" -c "import sys; sys.version_info >= (3, 11) and '${pair%%:*}' in ('exceptiongroup', 'tomli') or __import__('${pair%%:*}')" \
        2>/dev/null || missing="$missing ${pair#*:}"
done
if [ -n "$missing" ]; then
    if compgen -G "$WHEEL_DIR/*.whl" >/dev/null; then
        mkdir -p "$SITE"
        for dist in $(echo "$missing" | tr ' ' '\n' | sort -u); do
            wheel=$(ls "$WHEEL_DIR"/"$(echo "$dist" | tr '-' '_')"-*.whl 2>/dev/null | sort -V | tail -1)
            if [ -n "$wheel" ]; then  # a wheel is a zip: unpacked, it is installed (pure Python, no build step)
                "$PY" -m zipfile -e "$wheel" "$SITE" || say "wheel $wheel: could not unpack"
            else
                say "missing $dist and no wheel for it in $WHEEL_DIR (benchmarks/device_check.sh --fetch-wheels)"
            fi
        done
        export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
    else
        say "missing:$missing; no wheels in $WHEEL_DIR (fetch them first: benchmarks/device_check.sh --fetch-wheels)"
    fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 JAX_ENABLE_X64=1
# JAX next to CuPy and PyTorch: no 75% preallocation; deterministic GPU kernels, as bit-for-bit resume needs
export XLA_PYTHON_CLIENT_PREALLOCATE=false
case " ${XLA_FLAGS:-} " in *xla_gpu_deterministic_ops*) ;; *) export XLA_FLAGS="${XLA_FLAGS:+$XLA_FLAGS }--xla_gpu_deterministic_ops=true" ;; esac
unset BPX_TF32 CUPY_TF32  # the precision rule: full float32 matmuls everywhere (TF32 is opt-in)

say "bpx device check ($MODE), $(date -u +%Y-%m-%dT%H:%M:%SZ), git $(git rev-parse --short HEAD 2>/dev/null || echo '?'), deadline ${DEADLINE}s"
if [ $MODE = gpu ]; then
    (nvidia-smi || echo "no nvidia-smi") >"$LOG/nvidia-smi.txt" 2>&1
    say "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo none)"
    candidates="cupy torch:cuda jax:gpu"
else
    candidates="torch jax:cpu"
fi
specs=""
for spec in $candidates; do
    if why=$("$PY" -c "import bpx; bpx.get_backend('$spec')" 2>&1); then
        specs="$specs $spec"
    else
        say "$spec: not usable here: $(echo "$why" | tail -1 | sed "s/\. Available here.*//" | cut -c1-300)"
    fi
done
specs=${specs# }
say "backends under test: ${specs:-none}"
[ -n "$specs" ] || { say "no backend to prove: FAILED"; status=1; }
comma=$(echo "$specs" | tr ' ' ',')

# run NAME CAP CMD...: one section under min(CAP, time left), SIGINT first (pytest writes its summary), logged
# to LOG/NAME.log; its result goes into summary.txt and the exit status
run() {
    local name=$1 cap=$2
    shift 2
    local left=$((DEADLINE - (SECONDS - T0)))
    local limit=$((cap < left ? cap : left))
    if [ "$BREAK" = "$name" ]; then
        say "section $name: FAILED (broken on purpose: BPX_DEVICE_CHECK_BREAK=$name)"
        status=1
        return 1
    fi
    if [ "$limit" -lt 5 ]; then
        say "section $name: FAILED (the ${DEADLINE}s deadline leaves ${left}s)"
        status=1
        return 1
    fi
    local start=$SECONDS rc
    timeout -s INT -k 15 "$limit" "$@" >>"$LOG/$name.log" 2>&1
    rc=$?
    local took=$((SECONDS - start))
    if [ $rc -eq 0 ]; then
        say "section $name: ok in ${took}s"
    elif [ $rc -eq 124 ] || [ $rc -eq 130 ] || [ $rc -eq 137 ]; then
        say "section $name: FAILED (stopped at its ${limit}s limit, rc=$rc) in ${took}s"
        status=1
    else
        say "section $name: FAILED (rc=$rc) in ${took}s"
        status=1
    fi
    return $rc
}
wanted() { case ",$SECTIONS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# 1. bpx info
if wanted info; then
    run info 60 "$PY" -m bpx info && sed -n '/^backends/,/^$/p;/^matmul precision/,/^$/p' "$LOG/info.log" >>"$summary"
fi

# 2. smoke: float32/float64 against NumPy, where the arrays live, hidden syncs
if wanted smoke; then
    # shellcheck disable=SC2086
    run smoke 90 "$PY" benchmarks/device_smoke.py $specs
    grep -E "FAILED|host syncs" "$LOG/smoke.log" | sed 's/^/  /' >>"$summary"
    echo "  jax transfer_guard log lines: $(grep -c "transfer" "$LOG/smoke.log")" >>"$summary"
fi

# 3. the targeted tests, per backend (tests_for SPEC: its files; the CPU mode takes a few, for the plumbing)
tests_for() {
    if [ $MODE = gpu ]; then
        echo "tests/test_matmul_precision.py tests/test_host_transfers.py tests/test_device_context.py tests/test_parity.py
tests/test_precision.py tests/test_loss_scaling.py tests/test_step.py tests/test_backend.py tests/test_network.py
tests/test_persistence.py tests/test_dropout.py tests/test_seeds.py"
    elif [ "${1%%:*}" = jax ]; then
        echo "tests/test_matmul_precision.py -k forward_pass"
    else
        echo "tests/test_host_transfers.py tests/test_device_context.py"
    fi
}
if wanted tests; then
    for spec in $specs; do
        name=tests-${spec//:/-}
        # shellcheck disable=SC2046
        BPX_BACKEND=$spec run "$name" $([ $MODE = cpu ] && echo 45 || echo 75) "$PY" -m pytest -q -p no:cacheprovider \
            -o addopts="" -rfEs --junitxml="$LOG/$name.xml" $(tests_for "$spec")
        verdict=$(grep -E "[0-9]+ (passed|failed|error)|no tests ran" "$LOG/$name.log" | tail -1)
        echo "  $spec: ${verdict:-no pytest summary}" >>"$summary"
        if ! echo "$verdict" | grep -qE "[1-9][0-9]* passed"; then  # a suite that skipped everything proves nothing
            say "section $name: FAILED (nothing passed)"
            status=1
        fi
    done
fi

# 4. one benchmark pass: each backend against torch CUDA and its own GPU's matmul roof
if wanted bench; then
    if [ $MODE = gpu ]; then
        peers=hand,roof
        "$PY" -c "import torch; assert torch.cuda.is_available()" 2>/dev/null && peers=hand,roof,torch:cuda
        run bench 120 "$PY" -m bpx bench --quiet --backends "$comma" --workloads b,d --peers "$peers" --samples 30000 \
            --repeats 3 --output "$LOG/bench.md" --json "$LOG/bench.json"
    else
        run bench 40 "$PY" -m bpx bench --quiet --backends "numpy,$comma" --peers hand,roof --hidden 32 --features 20 \
            --classes 5 --batch 64 --steps 20 --output "$LOG/bench.md"
    fi
fi

# 5. mixed precision, row by row
if wanted mixed; then
    if [ $MODE = gpu ]; then
        run mixed 100 "$PY" benchmarks/mixed_precision.py --specs "$comma" --steps 100 --output "$LOG/mixed_precision.md"
    else
        run mixed 40 "$PY" benchmarks/mixed_precision.py --specs torch --sizes 20,32,5 --batch 64 --steps 5 \
            --output "$LOG/mixed_precision.md"
    fi
fi

# 6. backend="fastest" for one network
if wanted fastest; then
    if [ $MODE = gpu ]; then
        net="--hidden 512,512 --features 784 --classes 10 --batch 256"
    else
        net="--hidden 32 --features 20 --classes 5 --batch 32"
    fi
    # shellcheck disable=SC2086
    BPX_CACHE_DIR="$LOG/cache" run fastest 60 "$PY" -m bpx bench --quiet --fastest --refresh $net
    echo "  $(grep -o "picked [^ ]*" "$LOG/fastest.log" 2>/dev/null | tail -1)" >>"$summary"
fi

say "device check ($MODE): $([ $status -eq 0 ] && echo "every section passed" || echo "FAILED"), $((SECONDS - T0))s in all"
exit $status
