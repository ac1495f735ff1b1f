"""Mixed precision (bpx.precision): bfloat16 matrix products with float32 master parameters."""

import json

import numpy as np
import pytest

import bpx
from bpx import datasets


def _digits():
    d = datasets.load_digits()
    order = np.random.default_rng(0).permutation(len(d.y))
    test, train = order[:360], order[360:]
    return d.X[train] / 16.0, d.y[train], d.X[test] / 16.0, d.y[test]


def _offers(backend):
    return backend.library.name in ("torch", "jax")


def test_bf16_digits_reach_float32_accuracy(backend):
    """The bundled digits net (64-128-10, adam lr 0.003, batch 32): bf16 within 1 point of float32."""
    if not _offers(backend):
        pytest.skip(f"{backend.spec} has no bfloat16 (refusal tested below)")
    X, y, Xt, yt = _digits()
    accuracy = {}
    for precision in (None, "bf16"):
        net = bpx.MLP([64, 128, 10], backend=backend, seed=0, precision=precision)
        net.fit(X, y, epochs=10, batch_size=32, optimizer=bpx.Adam(0.003), verbose=0)
        assert all(str(p.dtype).endswith("float32") for p in net.params)  # the masters stay float32
        accuracy[precision] = net.evaluate(Xt, yt)["accuracy"]
    assert accuracy["bf16"] >= 0.95
    assert abs(accuracy["bf16"] - accuracy[None]) <= 0.01


def _usable(spec):
    try:
        bpx.get_backend(spec)
        return True
    except ValueError:
        return False


def test_bf16_gradients_are_within_bf16_of_float32_and_torch_and_jax_agree():
    """One cost and gradient in bf16 on torch and on jax: within bfloat16's precision (8 bits of mantissa)
    of float32, really rounded (not float32), float32 results, and torch and jax within bf16 of each other."""
    specs = [spec for spec in ("torch", "jax") if _usable(spec)]
    if not specs:
        pytest.skip("neither torch nor jax is usable here")
    X, y, _, _ = _digits()
    net = bpx.MLP([64, 128, 10], backend="numpy", seed=1)
    cost, grads = net.loss_and_grads(X[:64], y[:64])
    full = [bpx.to_numpy(cost)] + [bpx.to_numpy(g) for g in grads]
    low = {}
    for spec in specs:
        net = bpx.MLP([64, 128, 10], backend=spec, seed=1, precision="bf16")
        cost, grads = net.loss_and_grads(X[:64], y[:64])
        assert all(str(g.dtype).endswith("float32") for g in grads)
        low[spec] = [bpx.to_numpy(cost)] + [bpx.to_numpy(g) for g in grads]
        for a, b in zip(low[spec], full):
            assert 0 < _relative(a, b) <= BF16_TOL, (spec, _relative(a, b))
    if len(low) == 2:
        for a, b in zip(low["torch"], low["jax"]):
            assert _relative(a, b) <= BF16_TOL


BF16_TOL = 3e-2  # bfloat16 rounds to 2^-8 relative; a gradient goes through three chained products


def _relative(a, b):
    """‖a − b‖ / ‖b‖ (Frobenius)."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - b) / np.linalg.norm(b))


def test_save_and_load_keep_the_master_dtype_and_the_precision(backend, tmp_path):
    if not _offers(backend):
        pytest.skip(f"{backend.spec} has no bfloat16")
    net = bpx.MLP([4, 5, 3], backend=backend, seed=0, precision="bf16")
    path = bpx.save(net, tmp_path / "m.npz")
    again = bpx.load(path, backend=backend)
    assert again.precision == "bf16" and again.dtype == "float32" and repr(again) == repr(net)
    for a, b in zip(net.params, again.params):
        np.testing.assert_array_equal(bpx.to_numpy(a), bpx.to_numpy(b))
    on_numpy = bpx.load(path, backend="numpy")  # no bfloat16 there: float32 throughout
    assert on_numpy.precision is None and on_numpy.dtype == "float32"
    assert net.copy(backend="numpy").precision is None and net.copy().precision == "bf16"


def test_backends_without_bfloat16_refuse_before_any_work(backend):
    if _offers(backend):
        pytest.skip(f"{backend.spec} offers bf16")
    with pytest.raises(ValueError, match=f"precision='bf16' is not offered on backend {backend.spec!r}"):
        bpx.MLP([4, 3], backend=backend, precision="bf16")


@pytest.mark.parametrize("kwargs,error,match", [
    ({"precision": "int8"}, ValueError, "precision must be None, 'bf16' or 'fp16'"),
    ({"precision": 16}, TypeError, "precision"),
    ({"precision": "bf16", "dtype": "float64"}, ValueError, "float32 master"),
])
def test_bad_precision_is_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        bpx.MLP([4, 3], backend="numpy", **kwargs)


def test_bpx_summary_and_bpx_train_show_the_precision(tmp_path, capsys):
    """The model line of `bpx train` and `bpx summary` name the mixed precision of a bf16 model."""
    from bpx.cli import main

    spec = next((b for b in ("torch", "jax") if b in bpx.available_backends()
                 and _offers(bpx.get_backend(b))), None)
    if spec is None:
        pytest.skip("no backend here offers bf16 (torch or jax)")
    out = tmp_path / "m.npz"
    assert main(["train", "--backend", spec, "--precision", "bf16", "--epochs", "1", "--hidden", "4",
                 "--out", str(out)]) == 0
    (model,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("model:")]
    assert ", float32, precision bf16;" in model
    assert main(["summary", "--model", str(out)]) == 0
    (dtype,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("dtype")]
    assert dtype.split(";")[0].split() == ["dtype", "float32,", "precision", "bf16"]
    assert main(["summary", "--model", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["precision"] == "bf16"
