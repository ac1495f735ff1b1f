"""What bpx sets for JAX before its GPU client starts (issue 26, items 2 and 6): no 75% preallocation
next to CuPy/PyTorch (``XLA_PYTHON_CLIENT_PREALLOCATE=false``) and deterministic GPU kernels
(``--xla_gpu_deterministic_ops=true``), where bit-for-bit resume is promised; never over the user's own
settings. Both flags are no-ops on the CPU, where these tests run; docs/gpu.md says what a GPU run proves."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bpx.backends._jax_library import DETERMINISTIC, gpu_environment


def test_defaults_where_the_user_set_nothing():
    env = {}
    assert gpu_environment(env) == {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "XLA_FLAGS": DETERMINISTIC}
    assert env == {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "XLA_FLAGS": DETERMINISTIC}
    assert gpu_environment(env) == {}  # once is enough


def test_the_users_settings_are_kept():
    env = {"XLA_PYTHON_CLIENT_PREALLOCATE": "true", "XLA_FLAGS": "--xla_gpu_deterministic_ops=false"}
    assert gpu_environment(env) == {}
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    gpu_environment(env)
    assert env["XLA_FLAGS"] == f"--xla_force_host_platform_device_count=2 {DETERMINISTIC}"


def test_set_before_jax_starts_in_a_fresh_process():
    pytest.importorskip("jax")
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_FLAGS")}
    code = ("import json, os, bpx; usable = bpx.available_backends(); "
            "import jax.numpy as jnp; float(jnp.ones(3).sum()); "
            "print(json.dumps([usable, os.environ.get('XLA_PYTHON_CLIENT_PREALLOCATE'), os.environ.get('XLA_FLAGS')]))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    usable, preallocate, flags = json.loads(out.stdout.strip().splitlines()[-1])
    assert "jax" in usable
    assert preallocate == "false" and DETERMINISTIC in flags
