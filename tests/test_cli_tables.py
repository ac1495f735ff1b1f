"""`bpx train` on a user's own CSV with default flags: the task (--task auto) and the scaling (--scale
auto) are chosen as a careful user would, with the reason printed; regressions report R², RMSE and MAE.
The tables are scikit-learn's bundled wine and diabetes data, written as CSV at test time."""

import csv
import json

import numpy as np
import pytest

import bpx
from bpx import datasets
from bpx.cli import main
from bpx.data._metrics import regression_metrics
from bpx.data._preprocessing import choose_scaling, infer_task


def run_cli(capsys, *argv):
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    sk = pytest.importorskip("sklearn.datasets")
    folder = tmp_path_factory.mktemp("tables")
    wine = sk.load_wine()
    with open(folder / "wine.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*wine.feature_names, "class"])
        for x, t in zip(wine.data, wine.target):
            w.writerow([*x, wine.target_names[t]])
    diabetes = sk.load_diabetes(scaled=False)
    with open(folder / "diabetes.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*diabetes.feature_names, "target"])
        for x, t in zip(diabetes.data, diabetes.target):
            w.writerow([*x, t])
    return folder


def test_wine_defaults_pick_classes_and_standardize(capsys, tmp_path, tables, backend):
    status, out, err = run_cli(capsys, "train", "--data", tables / "wine.csv", "--backend", backend.spec,
                               "--out", tmp_path / "wine.npz", "--verbose", "0")
    assert status == 0, err
    data_line, model_line = out.splitlines()[:2]
    assert "3 classes; task classification (auto: text labels, 3 distinct)" in data_line
    assert "scaling standardize (auto: tabular: 13 features with column maxima 0.66..1680)" in model_line
    test_line = out.strip().splitlines()[-1]
    assert test_line.startswith("test accuracy ") and float(test_line.split()[2].rstrip(",")) >= 0.9
    net = bpx.load(tmp_path / "wine.npz", backend=backend)
    assert net.classes == ["class_0", "class_1", "class_2"]
    assert net.metadata["preprocessing"]["scaling"]["method"] == "standardize"


def test_diabetes_defaults_train_a_regression_with_r2_rmse_mae(capsys, tmp_path, tables, backend):
    model = tmp_path / "diabetes.npz"
    status, out, err = run_cli(capsys, "train", "--data", tables / "diabetes.csv", "--backend", backend.spec,
                               "--out", model, "--json")
    assert status == 0, err
    summary = json.loads(out)
    assert summary["task"] == "regression" and summary["classes"] is None
    assert summary["task_reason"].startswith("auto: 214 distinct integer values over 442 rows")
    assert summary["scaling"] == "standardize" and (summary["output"], summary["loss"]) == ("identity", "mse")
    for part in ("train", "test"):
        assert set(summary[part]) == {"loss", "r2", "rmse", "mae"}
        # mse is ½·mean squared error: RMSE² = 2·loss
        assert summary[part]["rmse"] ** 2 == pytest.approx(2 * summary[part]["loss"], rel=1e-3)
    assert summary["test"]["r2"] > 0.3  # a linear model gets ~0.45 on this table
    # evaluate reports the same metrics, equal to those of the model's own predictions
    status, out, err = run_cli(capsys, "evaluate", "--model", model, "--data", tables / "diabetes.csv",
                               "--backend", backend.spec, "--json")
    assert status == 0, err
    report = json.loads(out)
    net = bpx.load(model, backend=backend)

    d = datasets.load(str(tables / "diabetes.csv"))
    pred = bpx.to_numpy(net.predict(d.X))
    expected = regression_metrics(d.y, pred)
    for key in ("r2", "rmse", "mae"):
        assert report[key] == pytest.approx(expected[key], rel=1e-9)
    status, out, _ = run_cli(capsys, "evaluate", "--model", model, "--data", tables / "diabetes.csv",
                             "--backend", backend.spec)
    assert f"R²        {report['r2']:.4f}" in out and "RMSE" in out and "MAE" in out
    # the text output of train
    status, out, _ = run_cli(capsys, "train", "--data", tables / "diabetes.csv", "--backend", backend.spec,
                             "--out", model, "--verbose", "0", "--epochs", "5")
    assert out.strip().splitlines()[-1].startswith("test R² ")


def test_task_can_be_forced(capsys, tmp_path, tables, backend):
    status, out, err = run_cli(capsys, "train", "--data", tables / "diabetes.csv", "--backend", backend.spec,
                               "--out", tmp_path / "c.npz", "--task", "classification", "--epochs", "1", "--json",
                               "--test-split", "0")
    assert status == 0, err
    assert json.loads(out)["task"] == "classification" and len(json.loads(out)["classes"]) == 214
    status, _, err = run_cli(capsys, "train", "--task", "regression", "--loss", "cross_entropy")
    assert status == 2 and "regression does not go with --loss cross_entropy" in err
    status, _, err = run_cli(capsys, "train", "--task", "classification", "--loss", "mse")
    assert status == 2 and "classification does not go with --loss mse" in err


def test_no_bias_and_dropout_flags(capsys, tmp_path, backend):
    model = tmp_path / "m.npz"
    status, out, err = run_cli(capsys, "train", "--backend", backend.spec, "--out", model, "--epochs", "2",
                               "--hidden", "32,16", "--no-bias", "--dropout", "0.3,0.1", "--activation", "silu",
                               "--json")
    assert status == 0, err
    summary = json.loads(out)
    assert summary["bias"] is False and summary["dropout"] == [0.3, 0.1]
    net = bpx.load(model, backend=backend)
    assert (net.bias, net.dropout, net.activation) == (False, [0.3, 0.1], "silu")
    assert net.param_names() == ["W1", "W2", "W3"]
    status, _, err = run_cli(capsys, "train", "--dropout", "0.3,0.1")
    assert status == 2 and "--dropout: 2 values for 1 hidden layer(s)" in err
    status, _, err = run_cli(capsys, "train", "--dropout", "1")
    assert status == 2 and "expected a number in [0, 1)" in err


def test_help_says_20_percent(capsys):
    status, out, _ = run_cli(capsys, "train", "--help")
    assert status == 0 and "20% held-out" in out.replace("\n", " ").replace("  ", " ") and "%%" not in out


@pytest.mark.parametrize("y,classes,task,reason", [
    (np.array(["a", "b", "a"]), None, "classification", "text labels, 2 distinct"),
    (np.array([True, False, True]), None, "classification", "true/false"),
    (np.arange(30) % 7, None, "classification", "7 distinct integer values"),
    (np.arange(500) % 100, None, "classification", "integer labels 0..99, every one present"),
    (np.arange(1, 61), None, "classification", "integer labels 1..60"),
    (np.arange(100) * 3.0 + 25, None, "regression", "100 distinct integer values over 100 rows"),
    (np.linspace(0, 1, 11), None, "regression", "fractional numbers, 11 distinct values"),
    (np.zeros((5, 2)), None, "regression", "2 target columns"),
    (np.array([0, 1, 1]), ["no", "yes"], "classification", "the file names 2 classes"),
])
def test_the_task_rule(y, classes, task, reason):
    got, why = infer_task(y, classes)
    assert got == task and reason in why


def test_the_scaling_rule():
    digits = datasets.load_digits()
    assert choose_scaling(digits.X) == ("max", "pixel-like: 64 non-negative columns sharing one range 0..16")
    rng = np.random.default_rng(0)
    assert choose_scaling(rng.standard_normal((20, 30)))[0] == "standardize"  # negative values
    wide = rng.uniform(0, 1, (20, 30)) * np.r_[np.ones(15), 1000 * np.ones(15)]
    assert choose_scaling(wide) == ("standardize", "tabular: 30 features of different ranges, column maxima "
                                                   f"{wide.max(0).min():g}..{wide.max():g}")
    assert choose_scaling(rng.uniform(0, 1, (20, 4)))[0] == "standardize"  # a few columns: a table


def test_regression_metrics_match_scikit_learn():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    y = rng.standard_normal((40, 3))
    p = y + 0.3 * rng.standard_normal((40, 3))
    got = regression_metrics(y, p)
    assert got["r2"] == pytest.approx(skm.r2_score(y, p), rel=1e-12)
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)), rel=1e-12)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-12)
    assert regression_metrics([1.0, 1.0], [1.0, 1.0])["r2"] == 1.0
    assert regression_metrics([1.0, 1.0], [1.0, 2.0])["r2"] == 0.0
    with pytest.raises(ValueError, match="differ"):
        regression_metrics(np.zeros(3), np.zeros(4))
