"""ONNX export (bpx.export_onnx, bpx export): a model trained on the session's backend, recorded from
bpx's own forward code on ndonnx, run by onnxruntime, gives bpx's answers."""

import csv
import os

import numpy as np
import pytest

ndx = pytest.importorskip("ndonnx", reason="needs ndonnx, which exists for Python >= 3.11 only "
                                           "(pip install 'bpx-backprop[onnx]')")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import bpx  # noqa: E402
from bpx.backends._backend import namespace  # noqa: E402
from bpx.cli import main  # noqa: E402
from bpx.io._onnx import OPSET, node_count, onnx_model  # noqa: E402
from bpx.nn._activations import ACTIVATIONS, Activation  # noqa: E402

CLASSIFIER_LOSS = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}
TOL = {"float32": dict(rtol=1e-5, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-12)}


def trained(backend, hidden="relu", output="softmax", sizes=(6, 9, 7, 3), dtype="float32", epochs=3):
    """A small network trained for a few epochs on the session's backend (so the weights are not the
    initial ones)."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(48, sizes[0]))
    net = bpx.MLP(list(sizes), activation=hidden, output=output, loss=CLASSIFIER_LOSS.get(output, "mse"),
                  backend=backend, dtype=dtype, seed=3)
    if output == "softmax":
        Y = rng.integers(0, sizes[-1], 48)
    elif output == "sigmoid":
        Y = (rng.random((48, sizes[-1])) < 0.5).astype(float)
    else:
        Y = rng.normal(size=(48, sizes[-1])) * 0.3
    net.fit(X, Y, epochs=epochs, batch_size=16, verbose=0)
    return net


def run(model, X):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return {o.name: v for o, v in zip(session.get_outputs(), session.run(None, {"X": X}))}


def probe(n_features, m=23, scale=3.0):
    return (np.random.default_rng(11).normal(size=(m, n_features)) * scale).astype(np.float32)


# -- outputs equal bpx's ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("output", list(ACTIVATIONS))
@pytest.mark.parametrize("hidden", list(ACTIVATIONS))
def test_onnxruntime_gives_bpx_outputs_for_every_activation_pair(backend, hidden, output):
    net = trained(backend, hidden, output, sizes=(6, 8, 3))
    X = probe(net.n_features)
    got = run(onnx_model(net), X)
    if net.is_classifier:
        assert set(got) == {"probabilities", "label"}
        np.testing.assert_allclose(got["probabilities"], bpx.to_numpy(net.predict_proba(X)), **TOL["float32"])
        np.testing.assert_array_equal(got["label"], bpx.to_numpy(net.predict(X)))
    else:
        assert set(got) == {"values"}
        np.testing.assert_allclose(got["values"], bpx.to_numpy(net.forward(X)), **TOL["float32"])


def test_the_model_dtype_and_a_dynamic_batch(backend, dtype):
    net = trained(backend, "tanh", "softmax", dtype=dtype)
    model = onnx_model(net)
    (x,) = model.graph.input
    assert x.type.tensor_type.elem_type == {"float32": onnx.TensorProto.FLOAT, "float64": onnx.TensorProto.DOUBLE}[dtype]
    assert [d.dim_param or d.dim_value for d in x.type.tensor_type.shape.dim] == ["N", net.n_features]
    assert {o.domain or "ai.onnx": o.version for o in model.opset_import}["ai.onnx"] == OPSET
    for m in (1, 2, 300, 0):
        X = probe(net.n_features, m).astype(dtype)
        got = run(model, X)
        assert got["probabilities"].shape == (m, 3) and got["probabilities"].dtype == np.dtype(dtype)
        if m:
            np.testing.assert_allclose(got["probabilities"], bpx.to_numpy(net.predict_proba(X)), **TOL[dtype])


def test_stable_sigmoid_and_softmax_export_stable(backend):
    """|z| ~ 1e3 at the outputs: finite probabilities, equal to bpx's (0 and 1 where they saturate)."""
    for output in ("sigmoid", "softmax"):
        net = trained(backend, "identity", output, sizes=(4, 3), epochs=1)
        W = np.array([[400.0, -400.0, 0.0]] * 4)
        net.set_params([W, np.zeros(3)])
        X = np.array([[1, 1, 1, 1], [-1, -1, -1, -1], [0.5, 0, 0, 0]], dtype=np.float32)
        p = run(onnx_model(net), X)["probabilities"]
        assert np.all(np.isfinite(p))
        np.testing.assert_allclose(p, bpx.to_numpy(net.predict_proba(X)), **TOL["float32"])


def test_class_names_become_string_labels(backend):
    net = trained(backend, "relu", "softmax")
    net.classes = ["cat", "dog", "emu"]
    X = probe(net.n_features)
    got = run(onnx_model(net), X)
    index = bpx.to_numpy(net.predict(X))
    assert list(got["label"]) == [net.classes[i] for i in index]
    one = trained(backend, "relu", "sigmoid", sizes=(6, 5, 1))
    one.classes = ["no", "yes"]
    got = run(onnx_model(one), X)
    assert list(got["label"]) == [one.classes[int(p >= 0.5)] for p in bpx.to_numpy(one.predict_proba(X))[:, 0]]


def test_the_graph_is_lean(backend):
    """No zero-size guards (If), no Identity nodes, weights as initializers; the graph ndonnx records
    as it is (lean=False) gives the same numbers."""
    net = trained(backend, "relu", "softmax")
    lean, raw = onnx_model(net), onnx_model(net, lean=False)
    ops = [n.op_type for n in lean.graph.node]
    assert "If" not in ops and "Identity" not in ops and "Constant" not in ops
    assert ops.count("MatMul") == len(net.layers)
    assert node_count(lean) <= 6 * len(net.layers) + 6 < node_count(raw)
    X = probe(net.n_features)
    a, b = run(lean, X), run(raw, X)
    np.testing.assert_array_equal(a["probabilities"], b["probabilities"])
    np.testing.assert_array_equal(a["label"], b["label"])


# -- bad input: clear errors, nothing written -------------------------------------------------------------------
class HostOnly(Activation):
    """An activation written with NumPy calls: it runs on numpy arrays, but not on a tracing library."""

    name = "host_only"

    def __call__(self, Z):
        return np.tanh(np.asarray(Z))


class Swish(Activation):
    """A user's activation written with standard functions only (not in bpx's table)."""

    name = "swish"

    def __call__(self, Z):
        return Z / (1.0 + namespace(Z).exp(-Z))


def test_any_activation_written_with_standard_functions_exports(backend):
    net = trained(backend, "relu", "softmax")
    net.layers[0].activation = net.layers[1].activation = Swish()
    X = probe(net.n_features)
    got = run(onnx_model(net), X)["probabilities"]
    np.testing.assert_allclose(got, bpx.to_numpy(net.predict_proba(X)), **TOL["float32"])


def test_an_activation_without_an_onnx_form_is_named_and_nothing_is_written(backend, tmp_path):
    net = trained(backend, "relu", "softmax")
    net.layers[0].activation = HostOnly()
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    with pytest.raises(ValueError, match=r"layer 1's activation 'host_only' has no ONNX form"):
        bpx.export_onnx(net, path)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["m.onnx"]


def test_bad_arguments_are_refused_before_any_work(backend, tmp_path):
    net = trained(backend, "relu", "softmax")
    with pytest.raises(TypeError, match="net must be a bpx.MLP"):
        bpx.export_onnx("model.npz", tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="does not exist"):
        bpx.export_onnx(net, tmp_path / "no" / "m.onnx")
    with pytest.raises(ValueError, match="is a directory"):
        bpx.export_onnx(net, tmp_path)
    with pytest.raises(TypeError, match="path must be a str"):
        bpx.export_onnx(net, 3)
    assert os.listdir(tmp_path) == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(backend, tmp_path, monkeypatch):
    net = trained(backend, "relu", "softmax")
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")

    def no_space(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(OSError, match="No space left"):
        bpx.export_onnx(net, path)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["m.onnx"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write into read-only folders")
def test_an_unwritable_folder_is_refused(backend, tmp_path):
    net = trained(backend, "relu", "softmax")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="not writable"):
            bpx.export_onnx(net, folder / "m.onnx")
        assert os.listdir(folder) == []
    finally:
        folder.chmod(0o700)


def test_export_writes_a_checked_model_atomically(backend, tmp_path):
    net = trained(backend, "relu", "softmax")
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    assert bpx.export_onnx(net, path) == str(path)
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert os.listdir(tmp_path) == ["m.onnx"]
    X = probe(net.n_features)
    np.testing.assert_allclose(run(model, X)["probabilities"], bpx.to_numpy(net.predict_proba(X)), **TOL["float32"])


# -- the command line: raw features in, `bpx predict --proba` out -----------------------------------------------
def cli(capsys, *argv):
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def csv_data(tmp_path):
    """Raw features on very different scales and named classes."""
    rng = np.random.default_rng(5)
    X = rng.uniform(0, 16, size=(90, 5)) * np.array([1.0, 4.0, 0.05, 1.0, 2.0]) + np.array([0, 10, 0, -8, 3])
    names = np.array(["red", "green", "blue"])[(X[:, 0] > 8).astype(int) + (X[:, 3] > 0)]
    path = tmp_path / "data.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"f{i}" for i in range(5)] + ["colour"])
        for x, c in zip(X, names):
            w.writerow([f"{v:.6g}" for v in x] + [c])
    return path, X.astype(np.float32)


@pytest.mark.parametrize("scale", ["standardize", "max", "255", "none"])
def test_the_exported_cli_model_on_raw_features_equals_bpx_predict(backend, capsys, tmp_path, csv_data, scale):
    data, X = csv_data
    model, onnx_path, proba_csv = tmp_path / "m.npz", tmp_path / "m.onnx", tmp_path / "p.csv"
    status, _, err = cli(capsys, "train", "--data", data, "--backend", backend.spec, "--epochs", 5, "--hidden", 8,
                         "--scale", scale, "--test-split", 0, "--verbose", 0, "--out", model)
    assert status == 0, err
    status, _, err = cli(capsys, "export", "--model", model, "--out", onnx_path)
    assert status == 0, err
    assert f"wrote {onnx_path}" in err
    status, _, err = cli(capsys, "predict", "--model", model, "--data", data, "--proba", "--backend", backend.spec,
                         "--out", proba_csv)
    assert status == 0, err
    with open(proba_csv) as f:
        rows = list(csv.reader(f))
    expected = np.array(rows[1:], dtype=float)
    got = run(onnx.load(onnx_path), X)
    assert rows[0] == ["blue", "green", "red"]
    np.testing.assert_allclose(got["probabilities"], expected, rtol=1e-5, atol=1e-5)
    status, out, err = cli(capsys, "predict", "--model", model, "--data", data, "--backend", backend.spec)
    assert status == 0, err
    assert list(got["label"]) == out.split()[1:]


def test_cli_errors(capsys, tmp_path):
    status, _, err = cli(capsys, "export", "--model", tmp_path / "none.npz", "--out", tmp_path / "m.onnx")
    assert status == 2 and "no such file" in err
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a model")
    status, _, err = cli(capsys, "export", "--model", bad, "--out", tmp_path / "m.onnx")
    assert status == 1 and err.startswith("bpx export: error: ") and str(bad) in err
    status, _, err = cli(capsys, "export", "--model", bad, "--out", tmp_path / "m.txt")
    assert status == 2 and ".onnx" in err
    status, _, err = cli(capsys, "export", "--model", bad)
    assert status == 2 and "--out" in err
    assert sorted(os.listdir(tmp_path)) == ["bad.npz"]
