"""nox sessions: the test suite once per array backend, lint, and the benchmarks.

A plain ``nox`` runs every test session this machine can run plus lint and docs; the cupy session skips
itself, with the reason, where no CUDA device is usable. ``nox -s bench`` runs the benchmarks.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "docs"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
# backends/<file>.txt -> the BPX_BACKEND specs its session runs; array_api_strict runs on three devices
DEVICES = {
    "array_api_strict": ["array_api_strict", "array_api_strict:device1", "array_api_strict:no_float64"],
    "cupy-cuda12x": ["cupy"],
    "cupy-cuda13x": ["cupy"],
}
# environment a session's tests need: JAX has float64 only in x64 mode (bpx never switches it on itself)
ENV = {"jax": {"JAX_ENABLE_X64": "1"}}
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
    if found and wanted and found.group(1) != wanted.group(1):
        return f"{requirements} needs a CUDA {wanted.group(1)} driver; this one is CUDA {found.group(1)}"
    return None


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
    session.run("python", "-m", "pytest", "-q", *session.posargs, env={"BPX_BACKEND": spec, **ENV.get(requirements, {})})


@nox.session
def lint(session):
    """ruff over the package, tests, benchmarks and this file."""
    session.install("ruff")
    session.run("ruff", "check", *[p for p in ("bpx", "tests", "benchmarks", "noxfile.py") if (ROOT / p).exists()])


@nox.session(tags=["bench"])
def bench(session):
    """``bpx bench`` on every usable backend against the peers: table, JSON and PNG under benchmarks/
    (pass options after ``--``, e.g. ``nox -s bench -- --quick``)."""
    session.install("-r", "backends/torch.txt", "-r", "backends/jax.txt")
    session.install(".[bench]")
    session.run("bpx", "bench", "--output", "benchmarks/results.md", "--json", "benchmarks/results.json",
                "--plot", "benchmarks/results.png", *session.posargs)


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
