"""The ``bpx`` commands train, predict, evaluate and summary: in-process through ``bpx.cli.main``
(fast, with capsys) and a few real subprocesses (``python -m bpx``), on the session's backend."""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import bpx
from bpx import datasets
from bpx.cli import main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def spec(backend):
    return ["--backend", backend.spec]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """400 digits as an .npz (fast to train on) and the rest as a CSV with named classes."""
    folder = tmp_path_factory.mktemp("data")
    d = datasets.load_digits()
    np.savez(folder / "small.npz", X=d.X[:400], y=d.y[:400])
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    with open(folder / "named.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"px{i}" for i in range(64)] + ["digit"])
        for x, t in zip(d.X[400:700], d.y[400:700]):
            w.writerow([int(v) for v in x] + [names[t]])
    return folder


def run_cli(capsys, *argv):
    """``(status, stdout, stderr)`` of ``bpx argv`` run in-process; usage errors give status 2."""
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def train(capsys, tmp_path, spec, *extra, name="m.npz"):
    out = tmp_path / name
    status, stdout, stderr = run_cli(capsys, "train", *spec, "--out", out, "--verbose", 0, *extra)
    assert status == 0, stderr
    return out, stdout


# -- bare `bpx train` ------------------------------------------------------------------------------------
def test_bare_train_reaches_97_percent_and_saves_the_model(capsys, tmp_path, monkeypatch, backend):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BPX_BACKEND", backend.spec)  # the session's backend stands in for auto
    status, out, err = run_cli(capsys)  # no command: help, status 2
    assert status == 2
    status, out, err = run_cli(capsys, "train")
    assert status == 0, err
    last = out.strip().splitlines()[-1]
    assert last.startswith("test accuracy ")
    # 10% of the training rows are held out for early stopping by default (--val-split auto): 0.9666 at
    # seed 0, 0.982 over seeds 0-4 (0.984 with --val-split 0; docs/guide/csv.md has the table)
    assert float(last.split()[2].rstrip(",")) >= 0.96
    assert ("validation: 143 of the 1438 training rows held out stratified by class (--val-split 0.1, auto); early stopping "
            "after 10 epochs without a better validation loss, the best epoch's weights kept") in out
    net = bpx.load(tmp_path / "bpx-model.npz", backend=backend)
    training = net.metadata["training"]
    assert (training["val_split"], training["early_stopping"]) == (0.1, 10)
    saved = next(line for line in out.splitlines() if line.startswith("saved "))
    if training["epochs_run"] < 60:  # stopped early: 10 epochs after the best one, whose weights were kept
        best = training["epochs_run"] - 10
        assert saved.endswith(f"stopped early (no better validation loss in the 10 epochs after epoch {best}); the "
                              f"weights are epoch {best}'s (validation loss {saved.rsplit(' ', 1)[1]}"), saved
    assert net.classes == [str(i) for i in range(10)] and net.layer_sizes == [64, 128, 10]
    assert net.metadata["preprocessing"]["scaling"] == {"method": "max", "n_features": 64, "scale": 16.0}
    # the saved model evaluates to the same test accuracy through the library
    d = datasets.load_digits()
    from bpx.data._preprocessing import stratified_split

    _, test = stratified_split(d.y, 0.2, 0)
    acc = net.evaluate(d.X[test], d.y[test])["accuracy"]  # the model applies its scaling
    assert f"test accuracy {acc:.4f}" in last


def test_train_as_a_real_process_then_predict_to_stdout(tmp_path, small, backend):
    env = dict(os.environ, BPX_BACKEND=backend.spec, PYTHONPATH=REPO)
    done = subprocess.run([sys.executable, "-m", "bpx", "train", "--data", small / "small.npz", "--epochs", "3",
                           "--out", tmp_path / "m.npz"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "test accuracy" in done.stdout.splitlines()[-1] and done.stderr == ""  # no bar when not a TTY
    done = subprocess.run([sys.executable, "-m", "bpx", "predict", "--model", tmp_path / "m.npz", "--data",
                           small / "small.npz"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows[0] == ["prediction"] and len(rows) == 401 and {r[0] for r in rows[1:]} <= set("0123456789")


# -- flags -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flags, check", [
    (["--hidden", "16,8"], lambda net, s: net.layer_sizes == [64, 16, 8, 10]),
    (["--activation", "tanh"], lambda net, s: net.activation == "tanh" and net.init == "lecun"),
    (["--init", "glorot"], lambda net, s: net.init == "glorot"),
    (["--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.9"],
     lambda net, s: net.metadata["training"]["optimizer"] == "sgd" and net.metadata["training"]["momentum"] == 0.9),
    (["--batch-size", "full"], lambda net, s: net.metadata["training"]["batch_size"] is None),
    (["--batch-size", "7", "--seed", "3"], lambda net, s: net.seed == 3 and net.metadata["training"]["batch_size"] == 7),
    (["--epochs", "2"], lambda net, s: s["epochs_run"] == 2 and len(s["history"]["loss"]) == 2),
    (["--val-split", "0.25"], lambda net, s: len(s["history"]["val_loss"]) == 3),
    (["--scale", "standardize"], lambda net, s: net.metadata["preprocessing"]["scaling"]["method"] == "standardize"),
    (["--scale", "255"], lambda net, s: net.metadata["preprocessing"]["scaling"] == {"method": "255", "n_features": 64}),
    (["--scale", "none"], lambda net, s: s["scaling"] == "none"),
    (["--test-split", "0"], lambda net, s: "test" not in s and "train" in s),
    (["--test-split", "0.5"], lambda net, s: "test" in s),
    (["--loss", "mse", "--scale", "max"], lambda net, s: (net.output, net.loss_name, net.classes) == ("identity", "mse", None)),
    (["--output", "sigmoid"], lambda net, s: net.output == "sigmoid" and net.n_outputs == 10),
    (["--x-key", "X", "--y-key", "y"], lambda net, s: net.n_features == 64),
])
def test_train_flags(capsys, tmp_path, spec, small, flags, check):
    out, stdout = train(capsys, tmp_path, spec, "--data", small / "small.npz", "--epochs", "3", "--json", *flags)
    summary = json.loads(stdout)
    net = bpx.load(out, backend=spec[1])
    assert check(net, summary), summary
    assert summary["model"] == str(out) and summary["backend"] == spec[1]


def test_train_dtype_float64(capsys, tmp_path, spec, small, backend):
    status, out, err = run_cli(capsys, "train", *spec, "--data", small / "small.npz", "--epochs", 1, "--dtype", "float64",
                               "--out", tmp_path / "m.npz")
    if backend.has_dtype("float64"):
        assert status == 0 and bpx.load(tmp_path / "m.npz", backend=backend).dtype == "float64"
    else:
        assert status == 1 and err.count("\n") == 1 and "dtype='float64' is not supported" in err
        assert not (tmp_path / "m.npz").exists()


def test_init_from_starts_from_the_saved_weights(capsys, tmp_path, spec, small, backend):
    first, _ = train(capsys, tmp_path, spec, "--data", small / "small.npz", "--hidden", "16", "--epochs", "2",
                     name="first.npz")
    start = bpx.load(first, backend=backend)
    # one full-batch SGD step with a vanishing learning rate: the result is the starting point
    again, _ = train(capsys, tmp_path, spec, "--data", small / "small.npz", "--hidden", "16", "--epochs", "1",
                     "--optimizer", "sgd", "--lr", "1e-12", "--batch-size", "full", "--init-from", first, name="again.npz")
    for p, q in zip(start.params, bpx.load(again, backend=backend).params):
        np.testing.assert_allclose(bpx.to_numpy(q), bpx.to_numpy(p), rtol=1e-6, atol=1e-9)
    fresh, _ = train(capsys, tmp_path, spec, "--data", small / "small.npz", "--hidden", "16", "--epochs", "1",
                     "--optimizer", "sgd", "--lr", "1e-12", "--batch-size", "full", "--seed", "5", name="fresh.npz")
    assert not np.allclose(bpx.to_numpy(bpx.load(fresh, backend=backend).params[0]), bpx.to_numpy(start.params[0]))
    status, _, err = run_cli(capsys, "train", *spec, "--data", small / "small.npz", "--hidden", "8",
                             "--init-from", first, "--out", tmp_path / "x.npz", "--verbose", 0)
    assert status == 1 and "layer sizes [64, 16, 10] differ from this network's [64, 8, 10]" in err
    status, _, err = run_cli(capsys, "train", *spec, "--init-from", first, "--init", "he")
    assert status == 2 and len(err.strip().splitlines()) == 1 and "--init-from" in err
    assert not (tmp_path / "x.npz").exists()


def test_early_stopping_restores_and_reports(capsys, tmp_path, spec, small):
    _, stdout = train(capsys, tmp_path, spec, "--data", small / "small.npz", "--epochs", "40", "--val-split", "0.3",
                      "--early-stopping", "1", "--lr", "0.05", "--json")
    s = json.loads(stdout)
    assert s["best_epoch"] is not None and s["epochs_run"] <= 40
    assert s["stopped_early"] == (s["epochs_run"] < 40)
    assert s["history"]["val_loss"][s["best_epoch"] - 1] == min(s["history"]["val_loss"])


def test_validation_split_and_early_stopping_are_the_default_and_turn_off(capsys, tmp_path, spec, small):
    """--val-split auto: 10% of the training rows (at least 100 of them) held out, stratified, early stopping
    with patience 10 and the best epoch's weights kept; --val-split 0 turns both off, --early-stopping 0
    early stopping only; the JSON summary says what was held out, when training stopped and which epoch's
    weights the model holds."""
    _, stdout = train(capsys, tmp_path, spec, "--data", small / "small.npz", "--epochs", "40", "--json")
    s = json.loads(stdout)  # 400 rows: 320 training rows, 30 held out (a tenth of each class, rounded)
    assert s["validation"] == {"split": 0.1, "rows": 30, "of_rows": 320, "reason": "auto", "early_stopping": 10}
    assert len(s["history"]["val_loss"]) == s["epochs_run"] and s["best_epoch"] is not None
    assert s["weights_from_epoch"] == s["best_epoch"]
    assert s["history"]["val_loss"][s["best_epoch"] - 1] == min(s["history"]["val_loss"])
    if s["epochs_run"] < 40:
        assert s["stopped_early"] and s["epochs_run"] - s["best_epoch"] == 10
    _, stdout = train(capsys, tmp_path, spec, "--data", small / "small.npz", "--epochs", "3", "--val-split", "0", "--json")
    s = json.loads(stdout)
    assert s["validation"] == {"split": 0.0, "rows": 0, "of_rows": 320, "reason": "--val-split", "early_stopping": None}
    assert "val_loss" not in s["history"] and s["best_epoch"] is None and s["weights_from_epoch"] == 3
    _, stdout = train(capsys, tmp_path, spec, "--data", small / "small.npz", "--epochs", "3", "--early-stopping", "0",
                      "--json")
    s = json.loads(stdout)
    assert s["validation"] == {"split": 0.1, "rows": 30, "of_rows": 320, "reason": "auto", "early_stopping": None}
    assert len(s["history"]["val_loss"]) == 3 and s["best_epoch"] is None and s["weights_from_epoch"] == 3
    # under 100 training rows: no validation split, and the summary says so
    np.savez(tmp_path / "tiny.npz", X=datasets.load_digits().X[:100], y=datasets.load_digits().y[:100])
    _, stdout = train(capsys, tmp_path, spec, "--data", tmp_path / "tiny.npz", "--epochs", "2")
    assert "validation: none (auto: none under 100 training rows); every epoch runs, the last weights kept" in stdout
    assert "saved " in stdout and "stopped early" not in stdout
    # the text summary: what was held out, when training stopped, which epoch's weights were kept (labels
    # that are noise: the validation loss soon only rises)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "noise.npz", X=rng.normal(size=(400, 8)), y=rng.integers(0, 2, 400))
    _, stdout = train(capsys, tmp_path, spec, "--data", tmp_path / "noise.npz", "--epochs", "40")
    assert ("validation: 32 of the 320 training rows held out stratified by class (--val-split 0.1, auto); early "
            "stopping after 10 epochs without a better validation loss, the best epoch's weights kept") in stdout
    saved = next(line for line in stdout.splitlines() if line.startswith("saved "))
    assert ": stopped early (no better validation loss in the 10 epochs after epoch " in saved, saved
    best = int(saved.split("after epoch ")[1].split(")")[0])
    assert f"the weights are epoch {best}'s (validation loss " in saved
    assert bpx.load(tmp_path / "m.npz", backend=spec[1]).metadata["training"]["epochs_run"] == best + 10


def test_json_and_plot(capsys, tmp_path, spec, small):
    plot = tmp_path / "curves.png"
    _, stdout = train(capsys, tmp_path, spec, "--data", small / "small.npz", "--epochs", "2", "--val-split", "0.2",
                      "--plot", plot, "--json")
    s = json.loads(stdout)  # stdout is exactly one JSON document
    assert set(s) >= {"model", "backend", "dtype", "layer_sizes", "history", "train", "test", "classes", "seconds"}
    assert set(s["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert 0 <= s["test"]["accuracy"] <= 1 and s["plot"] == str(plot)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_verbose_2_prints_one_line_per_epoch(capsys, tmp_path, spec, small):
    status, out, _ = run_cli(capsys, "train", *spec, "--data", small / "small.npz", "--epochs", 3, "--verbose", 2,
                             "--out", tmp_path / "m.npz")
    assert status == 0 and [line.split()[1] for line in out.splitlines() if line.startswith("epoch ")] == ["1/3", "2/3", "3/3"]


def test_test_data_and_named_classes_round_trip(capsys, tmp_path, spec, small, backend):
    """Train on a CSV with class names, test on another file, then predict/evaluate/summary."""
    named = small / "named.csv"
    model, stdout = train(capsys, tmp_path, spec, "--data", named, "--test-split", "0.2", "--epochs", "10")
    net = bpx.load(model, backend=backend)
    assert net.classes == sorted(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    assert net.metadata["preprocessing"]["label_column"] == "digit"
    # predict: class names, to stdout, .csv and .npy
    status, out, err = run_cli(capsys, "predict", "--model", model, "--data", named, *spec)
    assert status == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["prediction"] and len(rows) == 301 and {r[0] for r in rows[1:]} <= set(net.classes)
    status, _, err = run_cli(capsys, "predict", "--model", model, "--data", named, "--out", tmp_path / "p.csv", *spec)
    assert status == 0 and (tmp_path / "p.csv").read_text() == out
    status, _, _ = run_cli(capsys, "predict", "--model", model, "--data", named, "--out", tmp_path / "p.npy", *spec)
    assert status == 0 and list(np.load(tmp_path / "p.npy")) == [r[0] for r in rows[1:]]
    status, out, _ = run_cli(capsys, "predict", "--model", model, "--data", named, "--proba", *spec)
    proba = list(csv.reader(io.StringIO(out)))
    assert proba[0] == net.classes
    values = np.array(proba[1:], dtype=float)
    np.testing.assert_allclose(values.sum(axis=1), 1, rtol=1e-5)
    assert [net.classes[i] for i in values.argmax(axis=1)] == [r[0] for r in rows[1:]]
    # evaluate: the loss and accuracy of the library, a confusion matrix with the names
    status, out, _ = run_cli(capsys, "evaluate", "--model", model, "--data", named, "--json", *spec)
    report = json.loads(out)
    truth = np.array([net.classes.index(n) for n in datasets.load(named).y])

    expected = net.evaluate(datasets.load(named).X, truth)
    assert report["accuracy"] == pytest.approx(expected["accuracy"]) and report["loss"] == pytest.approx(expected["loss"])
    matrix = np.array(report["confusion_matrix"])
    assert matrix.sum() == 300 and np.trace(matrix) == report["n_correct"] == round(report["accuracy"] * 300)
    assert report["classes"] == net.classes
    status, out, _ = run_cli(capsys, "evaluate", "--model", model, "--data", named, *spec)
    assert status == 0 and "accuracy" in out and "confusion matrix" in out
    assert out.splitlines()[-10].split() == ["eight"] + [str(v) for v in matrix[0]]
    # summary
    status, out, _ = run_cli(capsys, "summary", "--model", model)
    assert status == 0 and "64 -> 128 -> 10" in out and f"{net.n_params:,} parameters" in out and "eight, five" in out
    status, out, _ = run_cli(capsys, "summary", "--model", model, "--json")
    info = json.loads(out)
    assert info["total_params"] == net.n_params == sum(layer["params"] for layer in info["layers"])
    assert info["dtype"] == net.dtype and info["classes"] == net.classes


def test_unseen_classes_are_refused_listing_the_known_ones(capsys, tmp_path, spec, small):
    model, _ = train(capsys, tmp_path, spec, "--data", small / "named.csv", "--epochs", "1")
    other = tmp_path / "other.csv"
    other.write_text(",".join(f"px{i}" for i in range(64)) + ",digit\n" + ",".join(["0"] * 64) + ",eleven\n")
    status, out, err = run_cli(capsys, "evaluate", "--model", model, "--data", other, *spec)
    assert status == 1 and err.count("\n") == 1
    assert "other.csv: labels hold class(es) unseen at training time: 'eleven'; the model knows 'eight', " in err


def test_binary_cross_entropy_on_two_classes_and_regression(capsys, tmp_path, spec, backend):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 3))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    np.savez(tmp_path / "two.npz", X=X, y=y)
    model, stdout = train(capsys, tmp_path, spec, "--data", tmp_path / "two.npz", "--loss", "binary_cross_entropy",
                          "--epochs", "30", "--json")
    net = bpx.load(model, backend=backend)
    assert (net.output, net.n_outputs, net.classes) == ("sigmoid", 1, ["no", "yes"])
    assert json.loads(stdout)["test"]["accuracy"] > 0.8
    status, out, _ = run_cli(capsys, "predict", "--model", model, "--data", tmp_path / "two.npz", "--proba", *spec)
    assert out.splitlines()[0] == "no,yes"
    status, out, _ = run_cli(capsys, "evaluate", "--model", model, "--data", tmp_path / "two.npz", "--json", *spec)
    assert np.array(json.loads(out)["confusion_matrix"]).shape == (2, 2)
    # numeric targets: identity + mse
    np.savez(tmp_path / "reg.npz", X=X, y=X @ np.array([0.5, -1.0, 2.0]))
    model, _ = train(capsys, tmp_path, spec, "--data", tmp_path / "reg.npz", "--epochs", "20")
    net = bpx.load(model, backend=backend)
    assert (net.output, net.loss_name, net.n_outputs, net.classes) == ("identity", "mse", 1, None)
    status, out, _ = run_cli(capsys, "evaluate", "--model", model, "--data", tmp_path / "reg.npz", "--json", *spec)
    assert status == 0 and "confusion_matrix" not in json.loads(out)
    status, out, err = run_cli(capsys, "predict", "--model", model, "--data", tmp_path / "reg.npz", "--proba", *spec)
    assert status == 1 and "--proba needs a classifier" in err


def test_hdf5_and_idx_from_the_cli(capsys, tmp_path, spec):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (40, 4, 4, 3), dtype=np.uint8)
    y = (X.reshape(40, -1).mean(axis=1) > 127).astype(np.int64)
    with h5py.File(tmp_path / "train.h5", "w") as f:
        f["train_set_x"], f["train_set_y"], f["list_classes"] = X, y, np.array([b"dark", b"bright"])
    model, _ = train(capsys, tmp_path, spec, "--data", tmp_path / "train.h5", "--loss", "binary_cross_entropy",
                     "--scale", "255", "--epochs", "2")
    net = bpx.load(model, backend=spec[1])
    assert net.classes == ["dark", "bright"] and net.n_features == 48
    assert net.metadata["preprocessing"]["scaling"] == {"method": "255", "n_features": 48}
    status, out, _ = run_cli(capsys, "evaluate", "--model", model, "--data", tmp_path / "train.h5", *spec)
    assert status == 0 and "dark" in out and "bright" in out
    head = bytes([0, 0, 8, 3]) + np.array([40, 4, 12], dtype=">u4").tobytes()
    (tmp_path / "x-images-idx3-ubyte").write_bytes(head + X.tobytes())
    (tmp_path / "x-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + np.array([40], ">u4").tobytes()
                                                   + y.astype(np.uint8).tobytes())
    train(capsys, tmp_path, spec, "--data", tmp_path / "x-images-idx3-ubyte", "--epochs", "2")


# -- CLI fuzz: bad flags exit 2 with one line ------------------------------------------------------------
BAD_TRAIN_FLAGS = [
    ["--epochs", "0"], ["--epochs", "-1"], ["--epochs", "nan"], ["--epochs", "2.5"], ["--epochs", "many"],
    ["--lr", "nan"], ["--lr", "inf"], ["--lr", "-inf"], ["--lr", "0"], ["--lr", "-0.1"], ["--lr", "fast"],
    ["--momentum", "1"], ["--momentum", "-0.1"], ["--momentum", "nan"], ["--optimizer", "sgd", "--momentum", "inf"],
    ["--batch-size", "0"], ["--batch-size", "-3"], ["--batch-size", "1.5"], ["--batch-size", "fullish"],
    ["--hidden", "2.5"], ["--hidden", "0"], ["--hidden", ""], ["--hidden", "a,b"], ["--hidden", "64,-4"],
    ["--val-split", "1"], ["--val-split", "nan"], ["--val-split", "-0.1"], ["--test-split", "1"],
    ["--early-stopping", "-1"], ["--early-stopping", "nan"], ["--seed", "-1"], ["--seed", "x"], ["--val-split", "often"],
    ["--activation", "swish"], ["--optimizer", "nadam"], ["--loss", "hinge"], ["--dtype", "float16"],
    ["--output", "relu"], ["--scale", "42"], ["--init", "zeros"], ["--verbose", "3"],
    ["--backend", "nope"], ["--backend", "numpy:gpu"], ["--data", "/no/such/file.csv"], ["--data", "/"],
    ["--out", "/no/such/folder/m.npz"], ["--plot", "/no/such/folder/c.png"], ["--nope"], ["extra"],
    ["--momentum", "0.5"],  # momentum with the default adam
    ["--val-split", "0", "--early-stopping", "3"],  # no validation split to watch
]


@pytest.mark.parametrize("flags", BAD_TRAIN_FLAGS, ids=" ".join)
def test_bad_train_flags_exit_2_with_one_line(capsys, tmp_path, monkeypatch, flags):
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(capsys, "train", *flags)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(("bpx train: error: ", "bpx: error: unrecognized arguments")), err
    assert not (tmp_path / "bpx-model.npz").exists()


@pytest.mark.parametrize("argv", [
    ["predict", "--data", "x.csv"], ["evaluate", "--model", "m.npz"], ["summary"], ["summary", "--model", "/no/m.npz"],
    ["predict", "--model", "M", "--data", "M", "--out", "preds.txt"],
    ["predict", "--model", "M", "--data", "M", "--backend", "x"],
    ["evaluate", "--model", "M", "--data", "M", "--labels", "/no/labels"], ["frobnicate"],
])
def test_bad_flags_of_the_other_commands_exit_2_with_one_line(capsys, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "M").write_bytes(b"x")
    status, out, err = run_cli(capsys, *argv)
    assert status == 2 and out == "" and err.count("\n") == 1 and err.startswith("bpx"), err


# -- bad data files exit 1 naming the file, the row and the column --------------------------------------
@pytest.mark.parametrize("text, where", [  # text cells are a text column and gaps are filled, except with --missing error
    ("a,b,y\n1,2,0\n3,,1\n", "row 3, column 2 ('b'): empty cell"),
    ("a,b,y\n1,2,0\n\n\n3,4,1\n5,nan,1\n", "row 6, column 2 ('b'): non-finite value 'nan'"),
    ("a,b,y\n1,2,0\n3,4\n", "row 3 has 2 columns, the header has 3"),
    ("a,b,y\n", "no rows (only a header)"),
    ("", "the file is empty"),
])
def test_bad_data_files_exit_1_naming_file_row_and_column(capsys, tmp_path, spec, text, where):
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    status, out, err = run_cli(capsys, "train", *spec, "--data", bad, "--out", tmp_path / "m.npz", "--missing", "error")
    assert status == 1 and err.count("\n") == 1
    assert err == f"bpx train: error: {bad}: {where}\n"
    assert not (tmp_path / "m.npz").exists()


def test_bad_model_and_mismatched_data_exit_1(capsys, tmp_path, spec, small):
    model, _ = train(capsys, tmp_path, spec, "--data", small / "small.npz", "--epochs", "1")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    for cmd in ("predict", "evaluate"):
        status, _, err = run_cli(capsys, cmd, "--model", tmp_path / "junk.npz", "--data", small / "small.npz", *spec)
        assert status == 1 and err.count("\n") == 1 and "junk.npz" in err
    np.save(tmp_path / "narrow.npy", np.zeros((2, 5)))
    status, _, err = run_cli(capsys, "predict", "--model", model, "--data", tmp_path / "narrow.npy", *spec)
    assert status == 1 and "X has 5 columns per sample, but the model takes 64 feature columns" in err
    status, _, err = run_cli(capsys, "evaluate", "--model", model, "--data", tmp_path / "narrow.npy", *spec)
    assert status == 1 and "narrow.npy: the file holds no labels" in err
    status, _, err = run_cli(capsys, "summary", "--model", tmp_path / "junk.npz")
    assert status == 1 and err.startswith("bpx summary: error: ") and "junk.npz" in err


# -- a killed `bpx train --out M` never breaks M --------------------------------------------------------
def test_killing_train_never_leaves_a_broken_model(tmp_path, small, backend):
    """Several `bpx train --out M` processes, SIGKILLed at random moments (some while saving); M
    always loads afterwards, as the old model or a new one."""
    env = dict(os.environ, BPX_BACKEND=backend.spec, PYTHONPATH=REPO)
    model = tmp_path / "M.npz"
    argv = [sys.executable, "-m", "bpx", "train", "--data", str(small / "small.npz"), "--hidden", "32",
            "--out", str(model), "--verbose", "0"]
    first = subprocess.run(argv + ["--epochs", "1"], capture_output=True, env=env)
    assert first.returncode == 0, first.stderr
    rng = np.random.default_rng(0)
    for round_ in range(3):
        procs = [subprocess.Popen(argv + ["--epochs", str(int(rng.integers(1, 6))), "--seed", str(i)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(3)]
        start = time.monotonic()
        for proc, delay in sorted(zip(procs, rng.uniform(0.3, 4.0, len(procs))), key=lambda p: p[1]):
            time.sleep(max(0.0, start + delay - time.monotonic()))
            proc.send_signal(signal.SIGKILL)
        for proc in procs:
            proc.wait()
        net = bpx.load(model, backend="numpy")
        assert net.layer_sizes == [64, 32, 10], round_
    # what a SIGKILL may leave: temporary files, and the run's own checkpoint (kept until the whole run has
    # succeeded, so a killed run can be resumed: nothing finished is lost)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("M.npz", "M.npz.ckpt")]
    assert all(name.startswith(".M.npz.") and name.endswith(".tmp") for name in leftovers), leftovers
