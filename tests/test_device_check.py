"""benchmarks/device_check.sh's plumbing on the CPU (issue 26, item 8): bpx imports with nothing optional,
the wheels it fetches cover what a GPU image lacks, and its exit status is every section's result (a
section broken on purpose fails the run). The full CPU mode is ``nox -s device_check_cpu``."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "device_check.sh"
OPTIONAL = ("tqdm", "torch", "jax", "jaxlib", "cupy", "dask", "distributed", "sklearn", "scipy", "h5py", "onnx",
            "onnxruntime", "ndonnx", "matplotlib", "threadpoolctl", "array_api_strict", "hypothesis", "pytest")
needs_bash = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                                reason="the device check is a bash script (needs bash and coreutils' timeout)")


def test_bpx_imports_and_reports_with_nothing_optional_installed():
    """``import bpx``, ``bpx info`` and a fit (verbose=1, whose bar is tqdm's) with every optional module
    refused: what a bare GPU image has before its wheels are installed."""
    code = f"""
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {OPTIONAL!r}:
            raise ImportError("refused " + name)
sys.meta_path.insert(0, Refuse())
import numpy as np
import bpx
from bpx.tools._info import collect, format_text
text = format_text(collect())
net = bpx.MLP([2, 3, 2], backend="numpy")
net.fit(np.zeros((4, 2)), np.array([0, 1, 0, 1]), epochs=2, verbose=1)
print("torch" in text, sorted(m for m in sys.modules if m.split(".")[0] in {OPTIONAL!r}))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "[]"  # not one optional module was imported


def _wheels():
    text = SCRIPT.read_text()
    found = re.search(r'WHEELS="([^"]*)"', text, flags=re.S)
    return dict(pair.split(":") for pair in found.group(1).replace("\\\n", " ").split())


def test_the_wheels_cover_what_bpx_and_the_tests_import():
    dists = set(_wheels().values())
    assert {"tqdm", "pytest", "hypothesis", "array-api-compat", "array-api-strict"} <= dists
    assert {"pluggy", "iniconfig", "packaging", "attrs", "sortedcontainers"} <= dists  # pytest's and hypothesis' own


@needs_bash
def test_fetch_wheels_downloads_every_one_with_pip(tmp_path):
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\necho "$@"\n')
    fake.chmod(0o755)
    out = subprocess.run(["bash", str(SCRIPT), "--fetch-wheels", str(tmp_path / "w")], capture_output=True, text=True,
                         env={**os.environ, "PYTHON": str(fake)}, timeout=60)
    assert out.returncode == 0, out.stderr
    words = out.stdout.split()
    assert words[:6] == ["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest"]
    assert set(words[7:]) == set(_wheels().values())


def _check(tmp_path, sections, broken=""):
    env = {**os.environ, "PYTHON": sys.executable, "BPX_DEVICE_CHECK_SECTIONS": sections,
           "BPX_DEVICE_CHECK_BREAK": broken, "BPX_DEADLINE": "240"}
    out = subprocess.run(["bash", str(SCRIPT), "--cpu", str(tmp_path / (broken or "whole"))], capture_output=True,
                         text=True, env=env, timeout=600)
    return out.returncode, (tmp_path / (broken or "whole") / "summary.txt").read_text()


@needs_bash
@pytest.mark.skipif(not any(importlib.util.find_spec(name) for name in ("torch", "jax")),
                    reason="the CPU mode proves torch and jax on the CPU; neither is installed in this session "
                           "(the torch, jax and device_check_cpu sessions run it)")
def test_the_exit_status_is_every_sections_result(tmp_path):
    rc, summary = _check(tmp_path, "info")
    assert rc == 0, summary
    assert "section info: ok" in summary and "every section passed" in summary
    assert "bpx matmul precision: highest" in summary  # bpx info's rule, in the record
    rc, summary = _check(tmp_path, "info,mixed", broken="mixed")
    assert rc != 0
    assert "section info: ok" in summary
    assert "section mixed: FAILED (broken on purpose" in summary and "FAILED" in summary.splitlines()[-1]
