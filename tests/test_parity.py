"""Cross-backend parity: the same seed gives the same network, the same training, on every backend.

Runs in every session: the suite's backend is compared with every other backend importable here."""

import json

import numpy as np
import pytest
from conftest import strict_device_move_refused

import bpx
from bpx.cli import main
from bpx.tools._parity import default_specs, drift_report, synthetic_data

LAYERS = [8, 16, 4]


def others(backend, dtype="float32"):
    """Every other backend importable here that has ``dtype`` (jax without x64 has no float64)."""
    specs = [s for s in default_specs() if bpx.get_backend(s) != backend and bpx.get_backend(s).has_dtype(dtype)]
    if strict_device_move_refused():  # NumPy 1.26: array-api-strict's to_device fails (tests/conftest.py)
        specs = [s for s in specs if s != "array_api_strict:device1"]
    if not specs:
        pytest.skip("only one backend is importable here")
    return specs


def test_same_seed_bit_identical_initial_parameters(backend, float64):
    mine = [bpx.to_numpy(p) for p in bpx.MLP(LAYERS, backend=backend, dtype="float64", seed=11).params]
    for spec in others(backend, "float64"):
        theirs = [bpx.to_numpy(p) for p in bpx.MLP(LAYERS, backend=spec, dtype="float64", seed=11).params]
        for a, b in zip(mine, theirs):
            np.testing.assert_array_equal(a, b, err_msg=spec)


OPTIMIZERS = {"momentum": lambda: bpx.SGD(0.05, momentum=0.9),
              "nesterov": lambda: bpx.SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
              "adam": lambda: bpx.Adam(0.01)}


def train_200_steps(spec, dtype, optimizer="momentum", shuffle=True):
    X, y = synthetic_data(400, LAYERS[0], LAYERS[-1], seed=0)
    net = bpx.MLP(LAYERS, backend=spec, dtype=dtype, seed=3)
    net.fit(X, y, epochs=8, batch_size=16, optimizer=OPTIMIZERS[optimizer](), verbose=0,
            shuffle=shuffle)  # 8 × 25 = 200 steps
    return [bpx.to_numpy(p).astype(np.float64) for p in net.params]


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_200_sgd_momentum_steps_agree(backend, dtype, optimizer):
    """SGD+momentum (and Nesterov with weight decay, and Adam): 200 steps, every backend alike."""
    rtol = {"float64": 1e-10, "float32": 1e-4}[dtype]
    mine = {}
    for spec in others(backend, dtype):
        # lazy backends (Dask) draw shuffled batches by their own documented scheme: compared unshuffled
        shuffle = not (backend.library.lazy or bpx.get_backend(spec).library.lazy)
        if shuffle not in mine:
            mine[shuffle] = train_200_steps(backend, dtype, optimizer, shuffle)
        theirs = train_200_steps(spec, dtype, optimizer, shuffle)
        scale = max(np.abs(t).max() for t in theirs)
        worst = max(np.abs(a - b).max() for a, b in zip(mine[shuffle], theirs)) / scale
        assert worst <= rtol, f"{backend.spec} vs {spec} ({dtype}, {optimizer}): relative drift {worst:.2e}"


def test_a_model_saved_here_gives_the_same_output_everywhere(backend, dtype, tmp_path, tol):
    net = bpx.MLP(LAYERS, backend=backend, dtype=dtype, seed=1)
    path = bpx.save(net, tmp_path / "m.npz")
    X, _ = synthetic_data(20, LAYERS[0], LAYERS[-1], seed=1)
    mine = bpx.to_numpy(net.forward(X))
    for spec in others(backend, dtype):
        np.testing.assert_allclose(bpx.to_numpy(bpx.load(path, backend=spec).forward(X)), mine, **tol(dtype))


def test_drift_report_has_a_row_per_backend_dtype_and_epoch(backend):
    report = drift_report(specs=[backend.spec], epochs=2, samples=128, layer_sizes=(8, 8, 3))
    runs = {(r["backend"], r["dtype"]) for r in report["rows"]}
    assert len(report["rows"]) == 2 * len(runs) and len(runs) + len(report["skipped"]) == 2
    for row in report["rows"]:
        limit = 1e-9 if row["dtype"] == "float64" else 1e-3
        assert row["max_rel_dW"] <= limit and np.isfinite(row["loss"])


def test_bpx_parity_cli(backend, tmp_path, capsys):
    out = tmp_path / "drift.json"
    assert main(["parity", "--backends", backend.spec, "--epochs", "2", "--samples", "64", "--layers", "6,5,3",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| backend | dtype | epoch |" in text and backend.spec in text
    assert json.loads(out.read_text())["rows"]


def test_bpx_info_cli(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["backends"]["numpy"] == "usable" and info["bpx"] == bpx.__version__
    assert "blas" in info and "tf32" in info
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    assert "backends (auto ->" in text and "TF32" in text


def test_dask_is_compared_with_a_reference_of_the_same_setup(backend):
    """A lazy backend trains unshuffled, so its reference does too; the table says so under its own heading
    and shows the reference's own loss next to each row."""
    pytest.importorskip("dask.array")
    report = drift_report(specs=list(dict.fromkeys([backend.spec, "dask"])), dtypes=("float64",), epochs=2,
                          samples=64, layer_sizes=(6, 5, 3))
    dask_rows = [r for r in report["rows"] if r["backend"] == "dask"]
    assert dask_rows and all(r["shuffle"] is False for r in dask_rows)
    shuffled = drift_report(specs=["numpy"], dtypes=("float64",), epochs=2, samples=64, layer_sizes=(6, 5, 3))
    for row in dask_rows:  # the reference of the dask rows is the unshuffled float64 numpy run, not the shuffled one
        assert row["max_abs_dloss"] == abs(row["loss"] - row["reference_loss"]) <= 1e-9
    shuffled_ref = {r["epoch"]: r["loss"] for r in shuffled["rows"]}
    assert any(abs(row["reference_loss"] - shuffled_ref[row["epoch"]]) > 1e-6 for row in dask_rows)
    from bpx.tools._parity import format_table

    table = format_table(report)
    heading = next(line for line in table.splitlines() if "unshuffled" in line)
    assert "with the same setup" in heading and table.index(heading) < table.index("| dask |")
    assert "| reference loss |" in table
