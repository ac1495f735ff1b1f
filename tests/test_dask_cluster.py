"""bpx on a real Dask cluster: a ``dask scheduler`` and a ``dask worker`` started here as separate
processes in another working directory than the client's (as on a real cluster), and killed here.

- relative paths (HDF5, .npy/.npz shard folders, ``open_dask("shards/X_*.npy")``) train on the workers;
- a scheduler killed mid-run leaves the model so far, ``<out>.ckpt`` and the resume command (exit 1);
- with every worker dead, the run warns, and Ctrl-C still stops it with its checkpoint (exit 130).

Ports on 127.0.0.1 only; every wait is bounded (generous, for a busy 2-core machine); the processes are
killed in the fixtures' ``finally``. They run in the dask nox session (tests/conftest.py, DASK_SESSION).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dask", reason="needs dask[array]: pip install 'bpx[dask]'")
distributed = pytest.importorskip("distributed", reason="needs dask.distributed: pip install 'bpx[dask]'")
h5py = pytest.importorskip("h5py", reason="needs h5py: pip install 'bpx[data]'")

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DASK = BIN / "dask"
START_TIMEOUT = 120  # seconds for the scheduler and the worker to come up on a busy machine
RUN_TIMEOUT = 240  # seconds for one `bpx train` to end

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not DASK.exists(), reason=f"no `dask` command next to {sys.executable} (distributed's CLI)"),
]


def env():
    e = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    for name in ("BPX_BACKEND", "DASK_SCHEDULER_ADDRESS"):
        e.pop(name, None)
    return e


def popen(argv, folder, log, **kw):
    """``argv`` started in ``folder`` with its output (stdout and stderr) in the file ``log``."""
    with open(log, "w") as out:
        return subprocess.Popen(argv, cwd=folder, env=env(), stdout=out, stderr=subprocess.STDOUT, **kw)


def wait_for(condition, timeout, what, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    said = f"; the run's output ends: {log.read_text()[-2000:]}" if log is not None and log.exists() else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}{said}")


class Cluster:
    """A scheduler and one worker (no nanny: killing it kills the worker), started in ``folder``."""

    def __init__(self, folder):
        self.folder = folder
        self.file = folder / "scheduler.json"
        self.scheduler = self.worker = None

    def start(self):
        logs = self.folder
        self.scheduler = popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                "--scheduler-file", str(self.file)], self.folder, logs / "scheduler.log",
                               start_new_session=True)
        wait_for(lambda: self.file.exists() and self.file.stat().st_size > 0 or self.scheduler.poll() is not None,
                 START_TIMEOUT, "the scheduler file")
        assert self.scheduler.poll() is None, (logs / "scheduler.log").read_text()
        self.address = json.loads(self.file.read_text())["address"]
        assert self.address.startswith("tcp://127.0.0.1:")
        self.worker = popen([str(DASK), "worker", "--scheduler-file", str(self.file), "--host", "127.0.0.1",
                             "--nthreads", "1", "--no-nanny", "--no-dashboard"], self.folder, logs / "worker.log",
                            start_new_session=True)
        client = distributed.Client(self.address, timeout=START_TIMEOUT, set_as_default=False)
        try:
            client.wait_for_workers(1, timeout=START_TIMEOUT)
        finally:
            client.close()
        return self

    def stop(self):
        for proc in (self.worker, self.scheduler):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


@pytest.fixture
def cluster(tmp_path):
    folder = tmp_path / "cluster"  # the workers' working directory: not the client's
    folder.mkdir()
    c = Cluster(folder)
    try:
        yield c.start()
    finally:
        c.stop()


def blobs(m=480, n=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, n)) * 3
    y = rng.integers(0, k, m)
    return centers[y] + rng.standard_normal((m, n)), y


@pytest.fixture
def data(tmp_path):
    """The client's folder: data.h5, shards/ (X_<i>.npy + y_<i>.npy) and npz/ (X and y per shard)."""
    folder = tmp_path / "client"
    (folder / "shards").mkdir(parents=True)
    (folder / "npz").mkdir()
    X, y = blobs()
    with h5py.File(folder / "data.h5", "w") as f:
        f["X"], f["y"] = X, y
    for i, rows in enumerate(np.array_split(np.arange(len(X)), 3)):
        np.save(folder / "shards" / f"X_{i}.npy", X[rows])
        np.save(folder / "shards" / f"y_{i}.npy", y[rows])
        np.savez(folder / "npz" / f"part{i}.npz", X=X[rows], y=y[rows])
    return folder, X, y


def bpx_train(folder, *argv, **kw):
    return subprocess.Popen([sys.executable, "-m", "bpx", "train", "--backend", "dask", *argv], cwd=folder, env=env(),
                            **kw)


def bpx_train_logged(folder, log, *argv):
    """``bpx train`` in the background, its stderr (and stdout) in the file ``log``."""
    return popen([sys.executable, "-m", "bpx", "train", "--backend", "dask", *argv], folder, log)


def test_relative_paths_are_read_on_workers_in_another_folder(cluster, data):
    folder, X, y = data
    script = (
        "import sys, numpy as np, distributed, bpx\n"
        "client = distributed.Client(sys.argv[1], timeout=60)\n"
        "for path in ('shards/X_*.npy', 'shards', 'npz', 'data.h5'):\n"
        "    ds = bpx.datasets.open_dask(path)\n"
        "    print(path, float(ds.X.sum().compute()), int(ds.y.sum().compute()))\n"
        "client.close()\n")
    done = subprocess.run([sys.executable, "-c", script, cluster.address], cwd=folder, env=env(), capture_output=True,
                          text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    sums = {line.split()[0]: (float(line.split()[1]), int(line.split()[2])) for line in done.stdout.splitlines()}
    assert set(sums) == {"shards/X_*.npy", "shards", "npz", "data.h5"}
    for path, (sx, sy) in sums.items():
        np.testing.assert_allclose(sx, X.sum(), rtol=1e-12, err_msg=path)
        assert sy == y.sum(), path
    for path in ("data.h5", "shards"):
        proc = bpx_train(folder, "--scheduler", cluster.address, "--data", path, "--epochs", "2", "--hidden", "4",
                         "--out", f"m-{path.replace('.', '-')}.npz", "--json", stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
        assert proc.returncode == 0, err[-3000:]
        summary = json.loads(out)
        assert summary["epochs_run"] == 2 and summary["layer_sizes"] == [6, 4, 3]


def test_a_killed_scheduler_leaves_the_model_a_checkpoint_and_the_resume_command(cluster, data):
    folder, _, _ = data
    err_file = folder / "err.txt"
    proc = bpx_train_logged(folder, err_file, "--scheduler", cluster.address, "--data", "data.h5", "--epochs", "2000",
                            "--hidden", "4", "--batch-size", "40", "--log", "run.csv", "--verbose", "0", "--out", "m.npz")
    try:
        log = folder / "run.csv"
        wait_for(lambda: log.exists() and len(log.read_text().splitlines()) > 3 or proc.poll() is not None,
                 RUN_TIMEOUT, "three epochs")
        assert proc.poll() is None, err_file.read_text()[-3000:]
        cluster.scheduler.kill()
        rc = proc.wait(timeout=RUN_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    err = err_file.read_text()
    assert rc == 1, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    (line,) = [x for x in err.splitlines() if x.startswith("bpx train:")]
    assert line.startswith("bpx train: error: lost the Dask scheduler: stopped after "), line
    assert "resume with:" in line and "--checkpoint m.npz.ckpt --resume" in err
    import bpx

    net = bpx.load(str(folder / "m.npz"), backend="numpy")
    assert net.metadata["training"]["interrupted"] == "scheduler-lost" and net.metadata["training"]["epochs_run"] >= 3
    assert (folder / "m.npz.ckpt").exists()


def test_dead_workers_warn_and_ctrl_c_still_stops_the_run_with_its_checkpoint(cluster, data):
    folder, _, _ = data
    err_file = folder / "err.txt"
    proc = bpx_train_logged(folder, err_file, "--scheduler", cluster.address, "--data", "shards", "--epochs", "2000",
                            "--hidden", "4", "--batch-size", "40", "--log", "run.csv", "--verbose", "0", "--out",
                            "m.npz", "--no-workers-timeout", "1")
    try:
        log = folder / "run.csv"
        wait_for(lambda: log.exists() and len(log.read_text().splitlines()) > 3 or proc.poll() is not None,
                 RUN_TIMEOUT, "three epochs")
        assert proc.poll() is None, err_file.read_text()[-3000:]
        cluster.worker.kill()
        cluster.worker.wait(timeout=30)
        wait_for(lambda: "has had no workers for 1 s" in err_file.read_text() or proc.poll() is not None,
                 RUN_TIMEOUT, "the no-workers warning", err_file)
        assert proc.poll() is None, err_file.read_text()[-3000:]
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=RUN_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    err = err_file.read_text()
    assert rc == 130, err[-3000:]
    assert "bpx train: warning: dask: the cluster tcp://127.0.0.1:" in err
    assert "bpx train: SIGINT: stopped after " in err and "--checkpoint m.npz.ckpt --resume" in err
    import bpx
    import bpx.training._checkpoint as checkpoint

    net = bpx.load(str(folder / "m.npz"), backend="numpy")
    assert net.metadata["training"]["interrupted"] == "SIGINT"
    _, state = checkpoint.read(str(folder / "m.npz.ckpt"))
    assert state["epoch"] >= 3 and state["epoch"] == net.metadata["training"]["epochs_run"]
