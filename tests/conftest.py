"""One suite, every backend: ``BPX_BACKEND=<spec> pytest`` runs it on that backend.

Fixtures:
  backend   the bpx.Backend under test (from $BPX_BACKEND, default numpy)
  xp        its namespace
  dtype     "float32" and "float64" (float64 skipped, with the reason, on devices without it)
  to_input  numpy array -> the backend's array (on numpy: a *read-only* copy, which catches any
            function that writes into its inputs, array-api-extra's trick; on dask: a dask array of
            up to three row chunks over a read-only copy)
  tol       tol(dtype) -> dict(rtol=..., atol=...) for np.testing.assert_allclose
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

import bpx

SPEC = os.environ.get("BPX_BACKEND", "numpy")


def pytest_report_header(config):
    return f"bpx backend: {SPEC} (set BPX_BACKEND to change)"


# What does not apply on a lazy (dask) backend, and why; everything else runs there with dask inputs.
# Keys are regular expressions searched in the test's node id.
LAZY_SKIPS = {
    r"tests/test_cli_tables\.py|tests/test_export\.py::test_the_exported_cli_model": "runs `bpx train`, which on the "
        "dask backend starts its own LocalCluster per call (see tests/test_cli.py's reason)",
    "tests/test_cli.py": "each `bpx train` on the dask backend starts its own LocalCluster, and the CLI's default "
                         "32-sample batches are latency-bound on Dask (README: where mini-batch on Dask stops "
                         "paying); the dask CLI path is tested in tests/test_dask.py",
    "tests/test_optimizers.py": "on the dask backend the parameters are NumPy arrays; these tests hand the "
                                "optimizers dask arrays, which no dask path does (the numpy session covers them)",
    "tests/test_explain.py::test_report_is_what_the_network_computes": "compares bpx explain (eager, on the host) "
        "bit for bit with loss_and_grads, which on a dask X sums per-chunk shares (equal to ~1e-15: tests/test_dask.py)",
    r"tests/test_dropout\.py::test_the_same_seed_gives_the_same_trajectory_on_every_backend|"
    r"tests/test_step\.py::test_sample_weights_reach_every_step": "shuffled epochs: the "
        "dask backend draws batches by its chunk scheme, so its masks and weights meet other rows (unshuffled "
        "dropout and sample weights on dask equal NumPy: tests/test_dask.py::test_every_feature_on_dask_equals_numpy)",
    "tests/test_parity.py::test_200_sgd_momentum_steps_agree": "shuffled epochs: the dask backend draws batches by "
        "its documented chunk scheme, not NumPy's global permutation (unshuffled parity: tests/test_dask.py)",
    "tests/test_parity.py::test_drift_report_has_a_row_per_backend_dtype_and_epoch": "shuffled epochs: the dask "
        "backend draws batches by its documented chunk scheme, not NumPy's global permutation",
}


def pytest_collection_modifyitems(config, items):
    try:
        lazy = bpx.get_backend(SPEC).library.lazy
    except (TypeError, ValueError):
        return
    if not lazy:
        return
    for item in items:
        for pattern, reason in LAZY_SKIPS.items():
            if re.search(pattern, item.nodeid):
                item.add_marker(pytest.mark.skip(reason=f"{SPEC}: {reason}"))


@pytest.fixture(scope="session")
def backend():
    try:
        return bpx.get_backend(SPEC)
    except ValueError as exc:
        pytest.skip(f"backend {SPEC!r} cannot run here: {exc}")


@pytest.fixture(scope="session")
def xp(backend):
    return backend.xp


@pytest.fixture(params=["float32", "float64"])
def dtype(request, backend):
    if request.param == "float64" and not backend.has_dtype("float64"):
        pytest.skip(f"{backend.spec} has no float64")
    return request.param


@pytest.fixture
def float64(backend):
    """For tests that need float64 exactly (golden numbers, gradient checks)."""
    if not backend.has_dtype("float64"):
        pytest.skip(f"{backend.spec} has no float64")
    return "float64"


@pytest.fixture
def to_input(backend):
    def convert(array):
        array = np.asarray(array)
        if backend.name == "numpy":
            array = array.copy()
            array.flags.writeable = False
            return array
        if backend.library.lazy:  # dask: the same rows in up to three row chunks (X and y of m rows alike)
            import dask.array as da

            read_only = array.copy()
            read_only.flags.writeable = False
            rows = max(1, -(-array.shape[0] // 3)) if array.ndim else ()
            return da.from_array(read_only, chunks=(rows,) + (-1,) * (array.ndim - 1) if array.ndim else ())
        if array.dtype == np.float64 and not backend.has_dtype("float64"):
            array = array.astype(np.float32)
        return backend.asarray(array)

    return convert


@pytest.fixture
def tol():
    def tolerance(dtype):
        return {"float32": dict(rtol=1e-4, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}[str(dtype)]

    return tolerance


# Modules that touch no array of the session's backend (the README/docs examples pin BPX_BACKEND=numpy
# themselves; the data loaders are host-side NumPy): nox sets BPX_ONCE_IN=numpy so they run once, in the
# numpy session, and skip with this reason in the others. A plain ``BPX_BACKEND=<spec> pytest`` runs them.
BACKEND_INDEPENDENT = r"tests/test_readme\.py|tests/test_datasets\.py"


# Tests marked ``cluster`` start a real dask scheduler and worker (tests/test_dask_cluster.py): under nox
# (BPX_ONCE_IN set) they run in the dask session only. A plain ``pytest`` runs them whatever the backend.
CLUSTER_SESSION = "dask"


def pytest_itemcollected(item):
    once_in = os.environ.get("BPX_ONCE_IN")
    if once_in and once_in != SPEC and re.search(BACKEND_INDEPENDENT, item.nodeid):
        item.add_marker(pytest.mark.skip(reason=f"backend-independent: runs once, in the {once_in} session"))
    if once_in and SPEC != CLUSTER_SESSION and item.get_closest_marker("cluster") is not None:
        item.add_marker(pytest.mark.skip(reason=f"starts a dask cluster: runs in the {CLUSTER_SESSION} session"))


def strict_device_move_refused():
    """None where array-api-strict can move an array to another of its devices, else why not: its
    ``to_device`` calls ``np.asarray(copy=True)``, which NumPy < 2 does not have (a known limitation of
    array-api-strict on NumPy 1.26, bpx's floor; tests that move arrays to array_api_strict:device1 skip)."""
    try:
        import array_api_strict as xp

        xp.asarray([1.0]).to_device(xp.Device("device1"))
    except ImportError:
        return None
    except TypeError as exc:
        return f"array-api-strict cannot move arrays between its devices on NumPy {np.__version__} ({exc})"
    return None


# -- a clean tree: the suite (docs examples included) writes nothing into the checkout ----------------------
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TREE = pytest.StashKey[object]()


def git_status():
    """``git status --porcelain`` of the checkout the tests live in (untracked files listed one by one), or
    None outside a git checkout (an installed package, an sdist) or without git."""
    import subprocess

    if not os.path.exists(os.path.join(ROOT, ".git")):
        return None
    try:
        done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the controller of an xdist run, or a plain run
        session.config.stash[_TREE] = git_status()


def pytest_sessionfinish(session, exitstatus):
    before = session.config.stash.get(_TREE, None)
    if before is None or hasattr(session.config, "workerinput"):
        return
    after = git_status()
    # files the suite created or deleted (edits to tracked files during a run are a developer's, not the suite's)
    new = sorted(line for line in set((after or "").splitlines()) - set(before.splitlines())
                 if line.startswith(("??", " D", "D ")))
    if new:
        session.config.get_terminal_writer().line(
            "the test suite changed the working tree (git status --porcelain): " + "; ".join(new[:20]), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
