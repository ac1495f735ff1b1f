"""Bias-free layers: MLP(bias=False) has params [W1, W2, ...] (Z = A @ W), and everything that reads
parameters (set_params, gradcheck, persistence, explain, summary) follows the layout."""

import json

import numpy as np
import pytest

import bpx
from bpx.tools._explain import explain, format_text


def test_layout_and_forward(backend, dtype, to_input, tol):
    net = bpx.MLP([3, 5, 4, 2], activation="tanh", output="identity", loss="mse", bias=False, backend=backend,
                  dtype=dtype, seed=1)
    assert net.param_names() == ["W1", "W2", "W3"] and net.param_shapes() == [(3, 5), (5, 4), (4, 2)]
    assert len(net.params) == 3 and net.biases == [] and len(net.weights) == 3
    assert net.n_params == 15 + 20 + 8 and "bias=False" in repr(net)
    with_bias = bpx.MLP([3, 5, 4, 2], activation="tanh", output="identity", loss="mse", backend=backend,
                        dtype=dtype, seed=1)
    assert with_bias.param_names() == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for W, W_b in zip(net.weights, with_bias.weights):  # the same seed draws the same weights
        np.testing.assert_array_equal(bpx.to_numpy(W), bpx.to_numpy(W_b))
    X = np.random.default_rng(0).standard_normal((6, 3))
    W1, W2, W3 = (bpx.to_numpy(W).astype(np.float64) for W in net.params)
    expected = np.tanh(np.tanh(X @ W1) @ W2) @ W3
    np.testing.assert_allclose(bpx.to_numpy(net.forward(to_input(X.astype(dtype)))), expected,
                               rtol=tol(dtype)["rtol"] * 10, atol=1e-5 if dtype == "float32" else 1e-12)


def test_training_keeps_the_layout_and_learns(backend, dtype, to_input):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)  # XOR-like: no bias needed through the origin
    net = bpx.MLP([4, 16, 2], activation="tanh", bias=False, backend=backend, dtype=dtype, seed=0)
    h = net.fit(to_input(X), to_input(y), epochs=300, optimizer=bpx.Adam(lr=0.02, weight_decay=1e-4), verbose=0)
    assert len(net.params) == 2 and h.loss[-1] < 0.5 * h.loss[0]
    assert net.evaluate(to_input(X), to_input(y))["accuracy"] >= 0.9


def test_set_params_names_the_layout(backend):
    net = bpx.MLP([3, 4, 2], bias=False, backend=backend)
    with pytest.raises(ValueError, match=r"params must hold 2 arrays \[W1, W2\], got 4"):
        net.set_params([np.zeros((3, 4)), np.zeros(4), np.zeros((4, 2)), np.zeros(2)])
    with pytest.raises(ValueError, match=r"params\[1\] \(W2\) must have shape \(4, 2\)"):
        net.set_params([np.zeros((3, 4)), np.zeros((4, 3))])
    net.set_params([np.ones((3, 4)), np.ones((4, 2))])
    assert float(bpx.to_numpy(net.params[1]).sum()) == 8.0


def test_gradcheck(backend, float64, to_input):
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((7, 4)), rng.standard_normal((7, 3))
    net = bpx.MLP([4, 6, 5, 3], activation="sigmoid", output="identity", loss="mse", bias=False, backend=backend,
                  dtype="float64", seed=3)
    errors = bpx.gradcheck(net, to_input(X), to_input(Y))
    assert set(errors) == {"W1", "W2", "W3"} and max(errors.values()) <= 1e-7, errors
    _, grads = net.loss_and_grads(to_input(X), to_input(Y))
    assert [tuple(g.shape) for g in grads] == net.param_shapes()


def test_save_and_load(backend, dtype, to_input, tmp_path):
    net = bpx.MLP([3, 4, 2], bias=False, backend=backend, dtype=dtype, seed=5)
    path = bpx.save(net, tmp_path / "nb.npz")
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["W1", "W2", "header"]
        header = json.loads(npz["header"].tobytes())
    assert header["bias"] is False and header["arrays"] == ["W1", "W2"]
    assert header["format_version"] == 3  # older readers (formats 1, 2) say "upgrade bpx", not a bad shape
    again = bpx.load(path, backend=backend)
    assert again.bias is False and again.param_names() == ["W1", "W2"]
    X = to_input(np.random.default_rng(0).standard_normal((5, 3)).astype(dtype))
    np.testing.assert_array_equal(bpx.to_numpy(again.forward(X)), bpx.to_numpy(net.forward(X)))
    assert net.copy().bias is False and net.copy(dtype="float32").param_names() == ["W1", "W2"]


def test_files_written_before_the_bias_field_load_with_biases(backend, tmp_path):
    net = bpx.MLP([3, 4, 2], backend=backend, seed=5)
    path = bpx.save(net, tmp_path / "old.npz")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays["header"].tobytes())
    del header["bias"], header["dropout"]
    # such files are format 1, whose checksum covers the weights only
    header.update(format_version=1, sha256=bpx.utils.digest([arrays[n] for n in header["arrays"]]))
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    with pytest.warns(UserWarning, match="format version 1 .* its checksum covers the weights only"):
        old = bpx.load(path, backend=backend)
    assert old.bias is True and old.dropout == [0.0] and old.param_names() == ["W1", "b1", "W2", "b2"]


def test_explain_shows_no_biases(backend, float64, to_input):
    net = bpx.MLP([2, 2, 2], activation="sigmoid", output="sigmoid", loss="mse", bias=False, backend=backend,
                  dtype="float64")
    net.set_params([np.array([[0.15, 0.25], [0.20, 0.30]]), np.array([[0.40, 0.50], [0.45, 0.55]])])
    X, Y = to_input(np.array([[0.05, 0.10]])), to_input(np.array([[0.01, 0.99]]))
    report = explain(net, X, Y, lr=0.5)
    text = format_text(report)
    assert "b[1]" not in text and "z[1] = a[0] @ W[1]\n" not in text and "z[1] = a[0] @ W[1]" in text
    assert all(s.b is None and s.db is None for s in report.layers)
    assert "b" not in report.to_dict()["layers"][0]
    _, grads = net.loss_and_grads(X, Y)
    for ours, theirs in zip(report.grads, grads):
        np.testing.assert_array_equal(ours, bpx.to_numpy(theirs))
    assert len(report.params_after) == 2


def test_summary_counts_no_biases(tmp_path, backend, capsys):
    from bpx.cli import main

    path = bpx.save(bpx.MLP([3, 4, 2], bias=False, backend=backend), tmp_path / "nb.npz")
    assert main(["summary", "--model", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["bias"] is False and info["total_params"] == 3 * 4 + 4 * 2 and info["layers"][0]["biases"] == 0


def test_sklearn_coefs_and_intercepts_follow_the_layout(backend):
    """The estimators always build networks with biases, but their coefs_/intercepts_ read any layout:
    the weight matrices, and zero intercepts for a network without biases."""
    pytest.importorskip("sklearn")
    import warnings

    from bpx.sklearn import MLPRegressor

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 3)), rng.standard_normal(30)
    est = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, backend=backend.spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    assert [c.shape for c in est.coefs_] == [(3, 4), (4, 1)] and [b.shape for b in est.intercepts_] == [(4,), (1,)]
    est._net = bpx.MLP([3, 4, 1], output="identity", loss="mse", bias=False, backend=backend, seed=1)
    np.testing.assert_array_equal(est.coefs_[1], bpx.to_numpy(est._net.params[1]))
    assert [b.tolist() for b in est.intercepts_] == [[0.0] * 4, [0.0]]
