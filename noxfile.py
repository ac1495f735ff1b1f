"""nox sessions: the test suite once per array backend, the oldest and newest supported versions, a
fresh-machine smoke test of the wheel, lint, and the benchmarks.

A plain ``nox`` runs every test session this machine can run, plus oldest, newest, smoke, lint and docs; the
cupy session skips itself, with the reason, where no CUDA device is usable, and oldest/newest skip
themselves, with the reason, where their Python is not installed. ``nox -s bench`` runs the benchmarks.
docs/development/testing.md describes them.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.sessions = ["tests", "oldest", "newest", "smoke", "lint", "docs"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
# pytest in every test session: one worker per core (pytest-xdist; most tests are Python-bound, so two
# workers on two cores halve the time); `nox -s "tests(numpy)" -- -n 0` runs in one process
PYTEST = ("-q", "-n", "auto")
# backends/<file>.txt -> the BPX_BACKEND specs its session runs; array_api_strict runs on three devices
DEVICES = {
    "array_api_strict": ["array_api_strict", "array_api_strict:device1", "array_api_strict:no_float64"],
    "cupy-cuda12x": ["cupy"],
    "cupy-cuda13x": ["cupy"],
}
# environment a session's tests need: JAX has float64 only in x64 mode (bpx never switches it on itself)
ENV = {"jax": {"JAX_ENABLE_X64": "1"}}
# where JAX may start next to CuPy or PyTorch on a GPU (every test process probes every backend): no 75%
# preallocation of the GPU's memory by JAX, and deterministic GPU kernels (bit-for-bit resume); docs/gpu.md
GPU_ENV = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "XLA_FLAGS": "--xla_gpu_deterministic_ops=true"}
# Tests that touch no array of the session's backend run once, in the numpy session (tests/conftest.py
# skips them elsewhere, saying so, when BPX_ONCE_IN is set to the session that runs them).
ONCE_IN = "numpy"
# Supported Python versions: the oldest runs every dependency at its floor (tests/constraints-oldest.txt),
# the newest the newest releases.
OLDEST_PYTHON, NEWEST_PYTHON = "3.10", "3.13"
# ... without the tests marked slow (scikit-learn's own MLP test module, minutes): tests(numpy) runs them
VERSIONS_PYTEST = ("-m", "not slow")
TARGETS = [
    (requirements.stem, spec)
    for requirements in sorted((ROOT / "backends").glob("*.txt"))
    for spec in DEVICES.get(requirements.stem, [requirements.stem])
]


def cuda_device(requirements):
    """None if an NVIDIA GPU whose driver runs this CuPy build (cupy-cuda12x, cupy-cuda13x) is visible,
    else the reason why not (checked before installing CuPy)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "no CUDA device found (no nvidia-smi on PATH)"
    result = subprocess.run([smi], capture_output=True, text=True)
    if result.returncode != 0 or "GPU" not in result.stdout:
        return f"no CUDA device found (nvidia-smi: {(result.stderr or result.stdout).strip()[:200]})"
    found = re.search(r"CUDA Version:\s*(\d+)", result.stdout)
    wanted = re.search(r"cuda(\d+)x", requirements)
    if found and wanted and not driver_runs(int(wanted.group(1)), int(found.group(1))):
        return f"{requirements} needs a CUDA {wanted.group(1)} (or newer) driver; this one is CUDA {found.group(1)}"
    return None


def driver_runs(build, driver):
    """Whether a driver of CUDA major version ``driver`` runs a CuPy built for CUDA ``build``: the same or
    a newer one (NVIDIA's drivers run older CUDA builds), so a CUDA 13 driver runs cupy-cuda12x too."""
    return driver >= build


def session_id(requirements, spec):
    """The session's name: the requirements file's, or the device's where one file runs on several."""
    return requirements if len(DEVICES.get(requirements, [requirements])) == 1 else spec.replace(":", "-")


@nox.session(tags=["tests"])
@nox.parametrize(
    "requirements,spec",
    [nox.param(r, s, id=session_id(r, s), tags=["gpu" if r.startswith("cupy") else "cpu"]) for r, s in TARGETS],
)
def tests(session, requirements, spec):
    """The whole suite with BPX_BACKEND=<spec>."""
    if requirements.startswith("cupy"):
        reason = cuda_device(requirements)
        if reason:
            session.skip(f"cupy: {reason}")
    session.install("-r", f"backends/{requirements}.txt")
    session.install(".[test]")
    env = {"BPX_BACKEND": spec, "BPX_ONCE_IN": ONCE_IN, **ENV.get(requirements, {}), **gpu_env()}
    if requirements == "jax":
        env.update(jax_compilation_cache(session))
    session.run("python", "-m", "pytest", *PYTEST, *session.posargs, env=env)


def gpu_env():
    """:data:`GPU_ENV` where an NVIDIA GPU is visible (and the user has not set those variables), else nothing."""
    if shutil.which("nvidia-smi") is None:
        return {}
    return {k: v for k, v in GPU_ENV.items() if k not in os.environ}


@nox.session(tags=["device"])
def device_check_cpu(session):
    """benchmarks/device_check.sh --cpu: the device check's sections (info, smoke, tests, bench, mixed precision,
    fastest) on numpy, torch and jax on the CPU (the plumbing of the GPU run; its exit status is the sections'
    results; under 3 minutes on a quiet machine). Its logs land in .nox/device-check-cpu/."""
    session.install("-r", "backends/torch.txt", "-r", "backends/jax.txt")
    session.install(".[test]")
    session.run("bash", str(ROOT / "benchmarks" / "device_check.sh"), "--cpu", str(ROOT / ".nox" / "device-check-cpu"),
                external=True, env={"PYTHON": str(Path(session.bin) / "python")})


def jax_compilation_cache(session):
    """JAX's persistent compilation cache in the session's folder, every compiled program kept (minimum
    compile time 0): a program compiled once is read back by every later test and every later run that
    lowers to the same XLA program, instead of being compiled again."""
    return {"JAX_COMPILATION_CACHE_DIR": str(Path(session.virtualenv.location) / "jax-cache"),
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1"}


def find_python(version):
    """The path of a working ``python<version>``: on PATH, or installed by pyenv but not selected (its shim
    then answers "command not found"), else None."""
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        roots.insert(0, subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip())
    candidates = [shutil.which(f"python{version}")]
    for root in filter(None, roots):
        installed = glob.glob(f"{root}/versions/{version}.*/bin/python{version}")
        candidates += sorted(installed, key=lambda p: [int(n) for n in re.findall(r"\d+", Path(p).parents[1].name)],
                             reverse=True)
    for candidate in filter(None, candidates):
        try:
            answer = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                                    capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if answer.returncode == 0 and answer.stdout.strip() == str(tuple(int(n) for n in version.split("."))):
            return candidate
    return None


def versions_session(version, describe):
    """A session on Python <version> where it is installed; elsewhere one that skips, giving the reason
    (not nox's missing-interpreter failure, which is the default where CI is set)."""
    found = find_python(version)

    def decorate(func):
        if found:
            return nox.session(python=found, name=func.__name__, tags=["versions"])(func)

        def missing(session):
            session.skip(f"Python {version} is not installed here (looked on PATH and in pyenv's versions/)")

        missing.__doc__ = f"{describe} (skips here: no Python {version})"
        return nox.session(python=False, name=func.__name__, tags=["versions"])(missing)

    return decorate


@versions_session(OLDEST_PYTHON, "the suite on the oldest supported Python, every dependency at its floor")
def oldest(session):
    """The suite on the oldest supported Python with every dependency at its declared floor
    (tests/constraints-oldest.txt), on numpy (array-api-strict takes part as the parity peer; as a backend
    it needs NumPy >= 2, see backends/array_api_strict.txt)."""
    session.install("-c", "tests/constraints-oldest.txt", ".[test]")
    session.run("python", "-m", "pip", "list")
    session.run("python", "-m", "pytest", *PYTEST, *VERSIONS_PYTEST, *session.posargs, env={"BPX_BACKEND": "numpy"})


@versions_session(NEWEST_PYTHON, "the suite on the newest supported Python with the newest releases")
def newest(session):
    """The suite on the newest Python the dependencies support, with their newest releases, on numpy."""
    session.install("--upgrade", "--upgrade-strategy", "eager", ".[test]")
    session.run("python", "-m", "pip", "list")
    session.run("python", "-m", "pytest", *PYTEST, *VERSIONS_PYTEST, *session.posargs, env={"BPX_BACKEND": "numpy"})


@nox.session(reuse_venv=False)
def smoke(session):
    """A fresh machine: build the wheel, install it (not the source tree) into a new venv, run ``bpx train``
    on the bundled digits in an empty folder, check the printed test accuracy and that the model loads."""
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(ROOT))
    (wheel,) = dist.glob("bpx_backprop-*.whl")
    session.install(str(wheel))
    work = dist.parent / "train"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    session.chdir(work)
    env = {"PYTHONPATH": "", "BPX_BACKEND": "numpy"}  # the installed wheel only, never the source tree
    out = session.run("bpx", "train", "--out", "model.npz", env=env, silent=True)
    print(out)
    found = re.search(r"^test accuracy (\d\.\d+)", out, flags=re.M)
    if not found:
        session.error("bpx train printed no test accuracy")
    # the default run (64-128-10, Adam, at most 60 epochs with early stopping on a tenth of the training
    # rows, float32) scores 0.967 on any BLAS kernel (0.967-0.992 over seeds 0-4): 0.9 is far below what
    # any correct build prints and far above chance (0.1)
    if float(found.group(1)) < 0.9:
        session.error(f"bpx train: test accuracy {found.group(1)} < 0.9")
    check = ("import pathlib, sys, bpx; net = bpx.load('model.npz'); "
             "assert 'site-packages' in bpx.__file__, bpx.__file__; "
             "from bpx.datasets import load_digits; d = load_digits(); "
             # the raw pixels: the model carries (and applies) the scaling bpx train chose
             "acc = net.evaluate(d.X, d.y)['accuracy']; print('loaded', bpx.__file__, 'accuracy', acc); "
             "assert acc > 0.9, acc")
    session.run("python", "-c", check, env=env)


@nox.session
def lint(session):
    """ruff over the package, tests, benchmarks, examples, docs and this file; then import-linter's
    contracts (pyproject.toml [tool.importlinter]: the layers of docs/development/architecture.md)."""
    session.install("ruff", "import-linter")
    paths = ("bpx", "tests", "benchmarks", "examples", "docs", "noxfile.py")
    session.run("ruff", "check", *[p for p in paths if (ROOT / p).exists()])
    session.run("lint-imports", "--config", str(ROOT / "pyproject.toml"), env={"PYTHONPATH": str(ROOT)})


@nox.session
def mutation(session):
    """Mutation testing (not a default session; docs/development/mutation.md): mutmut mutates the math
    (layers, losses, activations, optimizers, schedules, clipping), the training loop, the checkpoint,
    the callbacks and model files ([tool.mutmut] in pyproject.toml) and runs, for each mutant, the tests
    that cover the mutated function, on numpy. ``nox -s mutation -- 'bpx.training*'`` runs a subset
    (mutmut's name patterns); the results stay in mutants/ (``mutmut results``, ``mutmut show NAME``)."""
    session.install("-r", "backends/numpy.txt")
    session.install(".[test]", "mutmut>=3.8,<4")
    env = {"BPX_BACKEND": "numpy", "PYTHONPATH": ""}
    session.run("mutmut", "run", "--max-children", str(os.cpu_count() or 2), *session.posargs, env=env)
    session.run("mutmut", "results", env=env)


@nox.session(tags=["bench"])
def bench(session):
    """``bpx bench`` on every usable backend against the peers (benchmarks/run.py): table, JSON and PNG under
    benchmarks/; pass options after ``--``, e.g. ``nox -s bench -- --quick``, which writes under
    benchmarks/quick/ and leaves the committed results alone."""
    session.install("-r", "backends/torch.txt", "-r", "backends/jax.txt")
    session.install(".[bench]")
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def docs(session):
    """Build the docs site with warnings as errors (the gallery scripts run during the build), then check
    it in headless Chromium (docs/browser_check.py: titles, code blocks, screenshots, internal links).
    Chromium is Debian's ``chromium``; where it is missing and the session runs as root (CI), the check
    installs it with apt-get and says so."""
    session.install("-r", "backends/torch.txt")  # the gallery's digits-on-every-backend figure
    session.install(".[docs]")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html", *session.posargs)
    session.run("python", "docs/browser_check.py", *(["--install"] if os.geteuid() == 0 else []))
