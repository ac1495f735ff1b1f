"""``bpx train`` on long runs: checkpoints, ``--resume``, ``--log``, and Ctrl-C/SIGTERM.

The promise tested here, on the session's backend (``BPX_BACKEND``): a ``bpx train --checkpoint PATH
--resume`` run killed with SIGKILL at a random moment and started again with the same command ends
with exactly the model file (parameters, metadata) and the per-epoch log/History of an uninterrupted
run; SIGINT and SIGTERM stop the run with exit status 130/143, a loadable model and a checkpoint that
the printed command resumes to the same result. Each run is a real ``python -m bpx`` process.

On the dask backend each ``bpx train`` starts its own LocalCluster; the dask CLI run is tested small
in tests/test_dask.py instead.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import random
import re
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import bpx
from bpx.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUIDE = os.path.join(ROOT, "docs", "guide", "long-runs.md")
GUIDE_BLOCKS = (re.findall(r"```python\n(.*?)```", pathlib.Path(GUIDE).read_text(encoding="utf-8"), flags=re.S)
                if os.path.exists(GUIDE) else [])


@pytest.fixture
def data(tmp_path):
    """240 samples of 4 features in 3 classes, as a CSV file."""
    rng = np.random.default_rng(7)
    centers = rng.normal(0, 2, size=(3, 4))
    y = rng.integers(0, 3, size=240)
    X = centers[y] + rng.normal(0, 1, size=(240, 4))
    path = tmp_path / "blobs.csv"
    rows = ["a,b,c,d,label"] + [",".join(f"{v:.6f}" for v in x) + f",c{k}" for x, k in zip(X, y)]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def flags(backend):
    """`bpx train`'s flags for the session's backend (float64 where it has it)."""
    if backend.library.lazy:
        pytest.skip(f"{backend.spec}: each `bpx train` on a lazy backend starts its own LocalCluster; the dask "
                    "CLI long run is tested in tests/test_dask.py")
    return ["--backend", backend.spec, "--dtype", "float64" if backend.has_dtype("float64") else "float32"]


def command(data, flags, tmp, epochs, *extra, out="m.npz", log="run.csv"):
    return ["train", "--data", str(data), *flags, "--hidden", "16", "--batch-size", "8",
            "--epochs", str(epochs), "--seed", "3", "--out", str(tmp / out), "--log", str(tmp / log),
            "--verbose", "0", "--json", *extra]


def run_here(argv):
    """``bpx ARGV`` in this process: (exit status, the JSON summary)."""
    with contextlib.redirect_stdout(io.StringIO()) as out:
        rc = main(argv)
    return rc, json.loads(out.getvalue())


def start(argv):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", "bpx", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def wait_for_training(proc, log, since):
    """Wait until the run opened its log (training began: the loop's first callback hook ran)."""
    while proc.poll() is None:
        if log.exists() and log.stat().st_mtime >= since:
            return
        time.sleep(0.005)


def wait_for_epochs(proc, log, n):
    """Wait until the run logged ``n`` epochs (the training loop is running)."""
    while proc.poll() is None:
        if log.exists() and len(log.read_text().splitlines()) > n:  # a header line, then one per epoch
            return
        time.sleep(0.02)
    raise AssertionError(f"the run ended before {n} epochs: rc {proc.returncode}\n{proc.stderr.read()}")


def same_model(a, b):
    a, b = bpx.load(str(a), backend="numpy"), bpx.load(str(b), backend="numpy")
    assert len(a.params) == len(b.params)
    for p, q in zip(a.params, b.params):
        assert np.array_equal(p, q)  # bit for bit
    assert a.metadata == b.metadata and a.classes == b.classes


def test_bad_flag_combinations_exit_2_with_one_line(data, tmp_path, capsys):
    for argv, message in (
        (["--resume"], "argument --resume: needs --checkpoint PATH"),
        (["--checkpoint", str(tmp_path / "c.ckpt"), "--checkpoint-every", "0"],
         "argument --checkpoint-every: expected a positive integer, got '0'"),
        (["--checkpoint-every", "2"], "argument --checkpoint-every: needs --checkpoint PATH"),
        (["--checkpoint", str(tmp_path / "m.npz")], "argument --checkpoint: the same file as --out"),
        (["--log", str(tmp_path / "nofolder" / "run.csv")], "argument --log: the folder of"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(["train", "--data", str(data), "--out", str(tmp_path / "m.npz"), "--epochs", "2", *argv])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert sorted(os.listdir(tmp_path)) == ["blobs.csv"]  # nothing written


def test_a_resume_with_other_settings_or_fewer_epochs_is_refused_before_any_work(data, flags, tmp_path, capsys):
    ckpt = tmp_path / "run.ckpt"
    rc, _ = run_here(command(data, flags, tmp_path, 3, "--checkpoint", str(ckpt)))
    assert rc == 0
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for extra, message in ((["--epochs", "2"], "already holds 3 complete epochs"),
                           (["--scale", "max"], "written by a bpx train with other settings: "
                                                "preprocessing.scaling.method differs (checkpoint 'standardize', now 'max')"),
                           (["--hidden", "8"], "the checkpoint is of another run: architecture.layer_sizes differs "
                                               "(checkpoint [4, 16, 3], this fit [4, 8, 3])"),
                           (["--batch-size", "4"], "batch size differs (checkpoint 8, this fit 4)")):
        with contextlib.redirect_stdout(io.StringIO()):
            rc = main(command(data, flags, tmp_path, 3, "--checkpoint", str(ckpt), "--resume") + extra)
        assert rc == 1
        err = capsys.readouterr().err
        assert message in err and err.startswith("bpx train: error: ") and len(err.strip().splitlines()) == 1, err
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files  # model, log, checkpoint untouched


def test_log_writes_one_line_per_epoch_as_history_says(data, flags, tmp_path):
    rc, summary = run_here(command(data, flags, tmp_path, 4))
    assert rc == 0 and summary["epochs_run"] == 4
    lines = (tmp_path / "run.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert header[0] == "epoch" and len(lines) == 5
    loss = [float(line.split(",")[header.index("loss")]) for line in lines[1:]]
    assert loss == summary["history"]["loss"]
    assert not (tmp_path / "m.npz.ckpt").exists()  # no --checkpoint: the default one is removed after the run


def test_sigkill_at_random_moments_then_resume_is_the_uninterrupted_run(data, flags, tmp_path):
    epochs = 60
    rc, reference = run_here(command(data, flags, tmp_path, epochs, out="ref.npz", log="ref.csv"))
    assert rc == 0
    argv = command(data, flags, tmp_path, epochs, "--checkpoint", str(tmp_path / "run.ckpt"), "--resume")
    seed = random.randrange(2**32)
    moments = random.Random(seed).sample(range(1000), 2)
    for moment in moments:  # "run the same command again" after each kill
        began = time.time()
        proc = start(argv)
        wait_for_training(proc, tmp_path / "run.csv", began)
        time.sleep(reference["seconds"] * moment / 1000)  # a random moment of the run's training
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    proc = start(argv)
    out, err = proc.communicate()
    assert proc.returncode == 0, f"random seed {seed}: {err}"
    resumed = json.loads(out)
    same_model(tmp_path / "m.npz", tmp_path / "ref.npz")
    assert resumed["checkpoint"] == str(tmp_path / "run.ckpt") and reference["checkpoint"] is None
    assert resumed["history"] == reference["history"], f"random seed {seed}"
    assert (tmp_path / "run.csv").read_text() == (tmp_path / "ref.csv").read_text(), f"random seed {seed}"


@pytest.mark.parametrize("sig, status, checkpoint", [(signal.SIGINT, 130, True), (signal.SIGTERM, 143, False)],
                         ids=["SIGINT-checkpoint", "SIGTERM-default-checkpoint"])
def test_a_signal_stops_saves_and_prints_the_command_that_resumes(data, flags, tmp_path, sig, status, checkpoint):
    extra = ["--checkpoint", str(tmp_path / "run.ckpt")] if checkpoint else []
    proc = start(command(data, flags, tmp_path, 100_000, *extra))
    wait_for_epochs(proc, tmp_path / "run.csv", 2)
    proc.send_signal(sig)
    out, err = proc.communicate()
    assert proc.returncode == status, err
    stopped = json.loads(out)
    assert stopped["interrupted"] == signal.Signals(sig).name and stopped["epochs_run"] >= 2
    saved = bpx.load(str(tmp_path / "m.npz"), backend="numpy")  # the model so far, loadable
    assert saved.metadata["training"]["interrupted"] == signal.Signals(sig).name
    ckpt = tmp_path / ("run.ckpt" if checkpoint else "m.npz.ckpt")
    assert ckpt.exists() and stopped["checkpoint"] == str(ckpt)
    resume = err.rsplit("resume with:", 1)[1].strip()
    assert resume == stopped["resume"]
    argv = shlex.split(resume)
    assert argv[:2] == ["bpx", "train"] and "--resume" in argv and str(ckpt) in argv
    # the printed command, to fewer epochs in total (the run need not go on for 100,000)
    epochs = stopped["epochs_run"] + 3
    argv[argv.index("--epochs") + 1] = str(epochs)
    proc = start(argv[1:])
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    resumed = json.loads(out)
    assert resumed["resumed_from"] == stopped["epochs_run"]
    rc, reference = run_here(command(data, flags, tmp_path, epochs, out="ref.npz", log="ref.csv"))
    assert rc == 0
    same_model(tmp_path / "m.npz", tmp_path / "ref.npz")
    assert resumed["history"] == reference["history"]
    assert (tmp_path / "run.csv").read_text() == (tmp_path / "ref.csv").read_text()


def test_the_dask_options_need_the_dask_backend(data, tmp_path, capsys):
    """One `bpx train`: the dask options are its own, valid with --backend dask only."""
    for option, value in (("--workers", "3"), ("--scheduler", "tcp://127.0.0.1:9"), ("--chunks", "100")):
        with pytest.raises(SystemExit) as exit_:
            main(["train", "--data", str(data), "--backend", "numpy", option, value, "--out", str(tmp_path / "m.npz")])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert err.strip() == f"bpx train: error: argument {option}: applies to --backend dask only"
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("code", GUIDE_BLOCKS, ids=[f"example{k + 1}" for k in range(len(GUIDE_BLOCKS))])
def test_the_long_runs_guide_examples_print_what_they_claim(code, tmp_path, monkeypatch, capsys):
    """docs/guide/long-runs.md: each example's last print prints what its comment says."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BPX_BACKEND", "numpy")
    exec(compile(code, GUIDE, "exec"), {})
    claimed = code.rstrip().splitlines()[-1].split("#", 1)[1].strip()
    assert capsys.readouterr().out.strip() == claimed
