"""float16 mixed precision with dynamic loss scaling (bpx.loss_scaling): GradScaler's scheme on every engine."""

import collections

import numpy as np
import pytest

import bpx
import bpx.optimizers._loss_scaling as bls
from bpx import datasets
from bpx.optimizers._loss_scaling import GOOD, SCALE
from bpx.training._step import Compiled


def _digits():
    d = datasets.load_digits()
    order = np.random.default_rng(0).permutation(len(d.y))
    test, train = order[:360], order[360:]
    return d.X[train] / 16.0, d.y[train], d.X[test] / 16.0, d.y[test]


def _offers(backend):
    return backend.library.name in ("torch", "jax", "cupy")


def _need_fp16(backend):
    if not _offers(backend):
        pytest.skip(f"{backend.spec} has no fast float16 (refusal tested below)")


def _host(net):
    return [bpx.to_numpy(p) for p in net.params]


def _scaler(optimizer):
    """(S, good-step counter) of the optimizer's state, as Python floats."""
    return float(bpx.to_numpy(optimizer._state[SCALE][0])), float(bpx.to_numpy(optimizer._state[GOOD][0]))


def test_fp16_digits_reach_float32_accuracy(backend):
    """The bundled digits net (64-128-10, adam lr 0.003, batch 32): fp16 within 1 point of float32."""
    _need_fp16(backend)
    X, y, Xt, yt = _digits()
    accuracy = {}
    for precision in (None, "fp16"):
        net = bpx.MLP([64, 128, 10], backend=backend, seed=0, precision=precision)
        opt = bpx.Adam(0.003)
        net.fit(X, y, epochs=4, batch_size=32, optimizer=opt, verbose=0)
        assert all(str(p.dtype).endswith("float32") for p in net.params)  # the masters stay float32
        accuracy[precision] = net.evaluate(Xt, yt)["accuracy"]
    scale, good = _scaler(opt)
    assert opt.t == 4 * 45 and scale > 0 and 0 <= good <= opt.t
    assert accuracy["fp16"] >= 0.95
    assert abs(accuracy["fp16"] - accuracy[None]) <= 0.01


def test_fp16_gradients_are_float16_rounded_float32_values(backend):
    """The products really run in float16 (not float32), within float16's precision of float32."""
    _need_fp16(backend)
    X, y, _, _ = _digits()
    full = bpx.MLP([64, 128, 10], backend="numpy", seed=1).loss_and_grads(X[:64], y[:64])[1]
    low = bpx.MLP([64, 128, 10], backend=backend, seed=1, precision="fp16").loss_and_grads(X[:64], y[:64])[1]
    for g, f in zip(low, full):
        assert str(g.dtype).endswith("float32")
        relative = np.linalg.norm(bpx.to_numpy(g).astype(np.float64) - f) / np.linalg.norm(f)
        assert 0 < relative <= 3e-2  # 2^-11 per rounding; Z near 0 can flip a relu between float16 and float32


def test_an_overflow_skips_the_step_and_halves_the_scale(backend):
    """A scale of 2^40 overflows float16 (65504) in the backward products: each such step leaves the
    parameters and the optimizer's moments exactly as they were and halves S; once S fits, steps update
    and the good-step counter counts them. The step count counts every step."""
    _need_fp16(backend)
    X, y, _, _ = _digits()
    net = bpx.MLP([64, 128, 10], backend=backend, seed=0, precision="fp16",
                  loss_scaler=bpx.LossScaler(init_scale=2.0**40))
    opt = bpx.Adam(0.003)
    skipped = good = ever_good = 0
    scale = 2.0**40
    for k in range(40):
        before = _host(net)
        moments = None if opt._shapes is None else [bpx.to_numpy(a) for a in opt._state["m"]]
        cost = net.train_step(X[32 * k:32 * k + 32], y[32 * k:32 * k + 32], opt)
        assert np.isfinite(cost)  # the cost is unscaled: only the gradients overflow
        new_scale, counter = _scaler(opt)
        if new_scale == scale / 2:
            skipped += 1
            for p, q in zip(before, _host(net)):
                np.testing.assert_array_equal(p, q)
            if moments is not None:
                for a, b in zip(moments, opt._state["m"]):
                    np.testing.assert_array_equal(a, bpx.to_numpy(b))
            assert counter == 0
            good = 0
        else:
            assert new_scale == scale
            good += 1
            ever_good += 1
            assert counter == good
            assert any(not np.array_equal(p, q) for p, q in zip(before, _host(net)))
        scale = new_scale
    assert opt.t == 40
    assert skipped >= 10 and ever_good >= 5  # 2^40 overflows, then S halves until it fits


def test_a_monkeypatched_nan_gradient_skips_the_step(backend, monkeypatch):
    """Any non-finite gradient (here a NaN injected into one) skips the step at the default scale."""
    _need_fp16(backend)
    X, y, _, _ = _digits()
    net = bpx.MLP([64, 16, 10], backend=backend, seed=0, precision="fp16")
    opt = bpx.SGD(lr=0.1, momentum=0.9)
    net.train_step(X[:32], y[:32], opt)  # one good step: the velocity is not zero
    assert _scaler(opt) == (2.0**16, 1.0)
    before, velocity = _host(net), [bpx.to_numpy(v) for v in opt._state["v"]]
    real = bls.loss_and_grads

    def poisoned(*args, **kwargs):
        cost, grads, A_L = real(*args, **kwargs)
        return cost, grads[:-1] + [grads[-1] * float("nan")], A_L

    monkeypatch.setattr(bls, "loss_and_grads", poisoned)  # the functional core as the scaled step calls it
    monkeypatch.setattr(Compiled, "_cache", collections.OrderedDict())  # JAX: compile the poisoned step
    net.train_step(X[32:64], y[32:64], opt)
    assert _scaler(opt) == (2.0**15, 0.0)
    for p, q in zip(before, _host(net)):
        np.testing.assert_array_equal(p, q)
    for a, b in zip(velocity, opt._state["v"]):
        np.testing.assert_array_equal(a, bpx.to_numpy(b))
    monkeypatch.undo()
    net.train_step(X[32:64], y[32:64], opt)
    assert _scaler(opt) == (2.0**15, 1.0)
    assert all(not np.array_equal(p, q) for p, q in zip(before, _host(net)))


@pytest.mark.parametrize("how", ["train_step", "fit"])
def test_the_scale_grows_after_growth_interval_good_steps(backend, how):
    """growth_interval=3 from S=16: S doubles after steps 3 and 6, the counter restarts at 0 (one step
    at a time, and inside a compiled epoch on JAX)."""
    _need_fp16(backend)
    X, y, _, _ = _digits()
    net = bpx.MLP([64, 16, 10], backend=backend, seed=0, precision="fp16",
                  loss_scaler=bpx.LossScaler(init_scale=16.0, growth_interval=3))
    opt = bpx.Adam(0.003)
    if how == "fit":
        net.fit(X[:7 * 20], y[:7 * 20], epochs=1, batch_size=20, optimizer=opt, shuffle=False, verbose=0)
        assert _scaler(opt) == (64.0, 1.0)
        return
    seen = []
    for k in range(7):
        net.train_step(X[20 * k:20 * k + 20], y[20 * k:20 * k + 20], opt)
        seen.append(_scaler(opt))
    assert seen == [(16.0, 1.0), (16.0, 2.0), (32.0, 0.0), (32.0, 1.0), (32.0, 2.0), (64.0, 0.0), (64.0, 1.0)]


def test_the_scaler_state_round_trips_through_state_dict(backend):
    """S and the counter are part of Optimizer.state_dict(); a loaded optimizer continues identically."""
    _need_fp16(backend)
    X, y, _, _ = _digits()
    net = bpx.MLP([64, 16, 10], backend=backend, seed=0, precision="fp16",
                  loss_scaler=bpx.LossScaler(init_scale=2.0**30, growth_interval=4))
    opt = bpx.Adam(0.003)
    for k in range(20):
        net.train_step(X[20 * k:20 * k + 20], y[20 * k:20 * k + 20], opt)
    saved = opt.state_dict()
    assert float(saved["state"][SCALE][0]) == _scaler(opt)[0] and float(saved["state"][GOOD][0]) == _scaler(opt)[1]
    again = bpx.Adam(0.003)
    again.load_state_dict(saved, lambda a: backend.asarray(a, "float32"))
    twin = net.copy()
    for k in range(20, 30):
        net.train_step(X[20 * k:20 * k + 20], y[20 * k:20 * k + 20], opt)
        twin.train_step(X[20 * k:20 * k + 20], y[20 * k:20 * k + 20], again)
    assert _scaler(opt) == _scaler(again)
    for p, q in zip(_host(net), _host(twin)):
        np.testing.assert_array_equal(p, q)


def test_a_resumed_fp16_run_is_the_uninterrupted_run_bit_for_bit(backend, tmp_path):
    """fit(checkpoint=..., resume=True) with skipped steps and growths on both sides of the checkpoint."""
    _need_fp16(backend)
    X, y, _, _ = _digits()
    X, y = X[:200], y[:200]

    def run(epochs, **kw):
        net = bpx.MLP([64, 16, 10], backend=backend, seed=0, precision="fp16",
                      loss_scaler=bpx.LossScaler(init_scale=2.0**36, growth_interval=5))
        opt = bpx.Adam(0.003)
        history = net.fit(X, y, epochs=epochs, batch_size=32, optimizer=opt, verbose=0, **kw)
        return net, opt, history

    ref, ref_opt, h_ref = run(6)
    path = str(tmp_path / "run.ckpt")
    run(3, checkpoint=path, resume=True)
    net, opt, h = run(6, checkpoint=path, resume=True)
    assert h.resumed_from == 3
    for p, q in zip(_host(ref), _host(net)):
        np.testing.assert_array_equal(p, q)
    assert h.as_dict() == h_ref.as_dict()
    assert _scaler(opt) == _scaler(ref_opt) and opt.t == ref_opt.t == 6 * 7


def test_save_load_and_copy_keep_fp16(backend, tmp_path):
    _need_fp16(backend)
    scaler = bpx.LossScaler(growth_interval=10)
    net = bpx.MLP([4, 5, 3], backend=backend, seed=0, precision="fp16", loss_scaler=scaler)
    assert "loss_scaler=LossScaler(growth_interval=10)" in repr(net)
    assert net.copy().loss_scaler == scaler and net.copy(backend="numpy").loss_scaler is None
    again = bpx.load(bpx.save(net, tmp_path / "m.npz"), backend=backend)
    assert again.precision == "fp16" and again.dtype == "float32" and again.loss_scaler == bpx.LossScaler()
    assert bpx.load(tmp_path / "m.npz", backend="numpy").precision is None


def test_backends_without_float16_refuse_before_any_work(backend):
    if _offers(backend):
        pytest.skip(f"{backend.spec} offers fp16")
    with pytest.raises(ValueError, match=f"precision='fp16' is not offered on backend {backend.spec!r}"):
        bpx.MLP([4, 3], backend=backend, precision="fp16")


def test_lbfgs_is_refused_with_fp16(backend):
    _need_fp16(backend)
    X, y, _, _ = _digits()
    net = bpx.MLP([64, 10], backend=backend, precision="fp16")
    before = _host(net)
    with pytest.raises(ValueError, match="dynamic loss scaling"):
        net.fit(X[:50], y[:50], epochs=1, optimizer=bpx.LBFGS(), verbose=0)
    for p, q in zip(before, _host(net)):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"loss_scaler": bpx.LossScaler()}, ValueError, "loss_scaler applies to precision='fp16' only"),
    ({"precision": "bf16", "loss_scaler": bpx.LossScaler()}, ValueError, "precision='fp16' only"),
    ({"precision": "fp16", "loss_scaler": 2.0**16}, TypeError, "loss_scaler must be None or a bpx.LossScaler"),
])
def test_bad_loss_scaler_is_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        bpx.MLP([4, 3], backend="numpy", **kwargs)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"init_scale": 0.0}, ValueError, "init_scale"),
    ({"growth_factor": 1.0}, ValueError, "growth_factor"),
    ({"backoff_factor": 1.0}, ValueError, "backoff_factor"),
    ({"growth_interval": 0}, ValueError, "growth_interval"),
    ({"growth_interval": 2.0}, TypeError, "growth_interval"),
    ({"growth_interval": 2**25}, ValueError, "growth_interval must be <= 2\\*\\*24"),
])
def test_bad_loss_scaler_arguments_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        bpx.LossScaler(**kwargs)
