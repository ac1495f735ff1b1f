"""`bpx train`'s optimizer, schedule and clipping flags (bpx/cli/optimizer_options.py)."""

import json

import numpy as np
import pytest

import bpx
from bpx import datasets
from bpx.cli import main
from bpx.nn._precision import supports


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "small.npz"
    d = datasets.load_digits()
    np.savez(path, X=d.X[:300], y=d.y[:300])
    return path


def run_cli(capsys, *argv):
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("flags,config", [
    (["--optimizer", "adamw", "--lr-schedule", "cosine", "--warmup", "10", "--min-lr", "1e-4", "--clip-norm", "1"],
     "AdamW(weight_decay=0.01, inplace=None, clip_norm=1.0, lr=Cosine(lr=0.003, total_steps=32, warmup=10, "
     "min_lr=0.0001)"),
    (["--optimizer", "rmsprop", "--lr-schedule", "step", "--step-size", "5", "--gamma", "0.5", "--clip-value", "0.1"],
     "RMSprop(weight_decay=0.0, inplace=None, clip_value=0.1, lr=Step(lr=0.001, step_size=5, gamma=0.5)"),
    (["--optimizer", "adagrad", "--lr-schedule", "invscaling", "--power-t", "0.25", "--weight-decay", "0.001"],
     "Adagrad(weight_decay=0.001, inplace=None, lr=InverseScaling(lr=0.01, power_t=0.25)"),
    (["--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.9", "--lr-schedule", "onecycle"],
     "SGD(weight_decay=0.0, inplace=None, lr=OneCycle(max_lr=0.05, total_steps=32, pct_start=0.3"),
    (["--optimizer", "adam", "--lr-schedule", "exponential", "--gamma", "0.9"],
     "Adam(weight_decay=0.0, inplace=None, lr=Exponential(lr=0.003, gamma=0.9)"),
    (["--optimizer", "lbfgs", "--weight-decay", "0.001"], "LBFGS(history_size=10"),
])
def test_each_optimizer_and_schedule_trains(capsys, tmp_path, backend, small, flags, config):
    if backend.library.lazy:
        pytest.skip("`bpx train --backend dask` starts a LocalCluster per call (tests/test_cli.py's reason); "
                    "the dask CLI builds its optimizer with the same build_optimizer")
    out = tmp_path / "m.npz"
    # 300 samples, 20% held out for the test, none for validation: 240 training samples, 8 batches of 32 an
    # epoch, 4 epochs: 32 steps
    status, stdout, err = run_cli(capsys, "train", "--backend", backend.spec, "--data", small, "--epochs", 4,
                                  "--val-split", 0, "--out", out, "--verbose", 0, "--json", *flags)
    assert status == 0, err
    summary = json.loads(stdout)
    assert np.isfinite(summary["history"]["loss"][-1])
    training = bpx.load(out, backend="numpy").metadata["training"]
    assert training["optimizer_config"].startswith(config), training["optimizer_config"]
    if "lbfgs" in flags:
        assert training["batch_size"] is None


@pytest.mark.parametrize("flags,message", [
    (["--warmup", "5"], "--warmup: applies to --lr-schedule cosine"),
    (["--lr-schedule", "cosine", "--gamma", "0.5"], "--gamma: applies to --lr-schedule step or exponential"),
    (["--optimizer", "lbfgs", "--lr", "0.1"], "--lr: does not apply to --optimizer lbfgs"),
    (["--optimizer", "lbfgs", "--lr-schedule", "cosine"], "--lr-schedule: does not apply to --optimizer lbfgs"),
    (["--clip-norm", "0"], "--clip-norm: expected a number > 0"),
    (["--gamma", "1.5", "--lr-schedule", "step"], "--gamma: expected a number in (0, 1]"),
    (["--optimizer", "nadam"], "--optimizer: invalid choice"),
])
def test_flags_that_do_not_go_together_are_usage_errors(capsys, tmp_path, small, flags, message):
    out = tmp_path / "m.npz"
    status, _, err = run_cli(capsys, "train", "--data", small, "--out", out, *flags)
    assert status == 2 and message in err, err
    assert not out.exists()


def test_a_warmup_longer_than_the_run_is_refused_before_training(capsys, tmp_path, small):
    out = tmp_path / "m.npz"
    status, _, err = run_cli(capsys, "train", "--data", small, "--out", out, "--epochs", 1, "--lr-schedule", "cosine",
                             "--warmup", 100)
    # 240 training rows, 24 of them held out for validation (--val-split auto): 7 batches of 32
    assert status != 0 and "--warmup 100: the run has only 7 steps" in err, err
    status, _, err = run_cli(capsys, "train", "--data", small, "--out", out, "--epochs", 1, "--lr-schedule", "cosine",
                             "--warmup", 100, "--val-split", 0)
    assert status != 0 and "--warmup 100: the run has only 8 steps" in err, err
    assert not out.exists()


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_precision_flag(capsys, tmp_path, backend, small, precision):
    if backend.library.lazy:
        pytest.skip("`bpx train --backend dask` starts a LocalCluster per call (tests/test_cli.py's reason)")
    out = tmp_path / "m.npz"
    status, _, err = run_cli(capsys, "train", "--backend", backend.spec, "--data", small, "--epochs", 1, "--out", out,
                             "--verbose", 0, "--precision", precision)
    if supports(backend, precision):
        assert status == 0, err
        assert bpx.load(out, backend=backend).precision == precision
    else:
        assert status != 0 and f"precision={precision!r} is not offered on backend" in err, err
        assert not out.exists()
