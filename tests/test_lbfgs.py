"""bpx.LBFGS: full-batch L-BFGS with a strong-Wolfe line search, on every backend."""

import math

import numpy as np
import pytest

import bpx
from bpx.data._adapter import as_data, as_sample_weight
from bpx.nn._functional import loss_and_grads
from bpx.optimizers._lbfgs import Objective, _strong_wolfe


def _problem(m=40, n_in=4, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n_in))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    return X, y


def _net(backend, dtype, **kw):
    return bpx.MLP([4, 6, 3], activation="tanh", output="softmax", loss="cross_entropy", backend=backend,
                   dtype=dtype, seed=3, **kw)


def test_lbfgs_converges_with_a_decreasing_loss(backend, dtype, to_input):
    X, y = _problem()
    net = _net(backend, dtype)
    opt = bpx.LBFGS(tol=1e-4 if dtype == "float64" else 1e-3)
    start = net.loss(to_input(X), y)
    history = net.fit(to_input(X), y, epochs=300, optimizer=opt, verbose=0)
    assert len(history) == opt.n_iter >= 5 and opt.n_fun >= opt.n_iter + 1
    assert all(b <= a for a, b in zip(history.loss, history.loss[1:]))  # the Wolfe conditions guarantee descent
    assert history.loss[-1] < 0.05 * start
    assert history.loss[-1] == pytest.approx(net.loss(to_input(X), y), rel=1e-4)
    assert history.accuracy[-1] == 1.0
    if opt.converged and "tol" in opt.message and "ftol" not in opt.message:
        _, grads = net.loss_and_grads(to_input(X), y)
        assert max(float(np.max(np.abs(bpx.to_numpy(g)))) for g in grads) <= opt.tol
    assert all(p.dtype == backend.dtype(dtype) for p in net.params)


def test_lbfgs_same_numbers_on_every_backend(backend, float64, to_input):
    """float64 on the session backend against numpy: the same iterations, the same minimum."""
    X, y = _problem()
    ref, net = _net("numpy", "float64"), _net(backend, "float64")
    h_ref = ref.fit(X, y, epochs=40, optimizer=bpx.LBFGS(), verbose=0)
    h = net.fit(to_input(X), y, epochs=40, optimizer=bpx.LBFGS(), verbose=0)
    assert len(h) == len(h_ref)
    np.testing.assert_allclose(h.loss, h_ref.loss, rtol=1e-6, atol=1e-9)


def test_the_line_search_uses_the_loss_and_its_gradient(backend, float64, to_input):
    """The objective's C and gᵀd (with weight decay and sample weights) against central differences of
    the cost along d, and a strong-Wolfe step satisfies both conditions."""
    X, y = _problem(m=12)
    net = _net(backend, "float64")
    Xd, Yd = as_data(net, to_input(X), y)
    w = bpx.nn.normalized_weights(as_sample_weight(net, to_input(np.linspace(0.0, 2.0, 12)), 12))
    obj = Objective(net, Xd, Yd, w, weight_decay=0.3)
    xp = backend.xp
    theta = obj.flat(net.params)
    rng = np.random.default_rng(1)
    d = backend.asarray(rng.standard_normal(theta.shape[0]), "float64")
    f0, _, gtd, _, g, _ = obj(theta, d)
    eps = 1e-6
    numeric = (obj(theta + eps * d)[0] - obj(theta - eps * d)[0]) / (2 * eps)
    assert gtd == pytest.approx(numeric, rel=1e-6)
    # the weight-decay term is λ/2 ‖W‖² on the weight matrices only
    net.params = obj.unflat(theta)  # the objective leaves the last trial point in the network
    data = loss_and_grads(net, net.params, Xd, Yd, w)[0]
    penalty = 0.15 * sum(float(xp.sum(W * W)) for W in net.params[0::2])
    assert f0 == pytest.approx(float(data) + penalty, rel=1e-12)
    d = -g
    gtd = float(xp.sum(g * d))
    t, new = _strong_wolfe(obj, theta, 1.0 / math.sqrt(-gtd), d, f0, gtd, 25)
    assert new is not None and t > 0
    assert new[0] <= f0 + 1e-4 * t * gtd  # sufficient decrease
    assert abs(new[2]) <= 0.9 * abs(gtd)  # curvature (strong)


def test_max_fun_and_epochs_bound_the_work(backend, dtype, to_input):
    X, y = _problem()
    net = _net(backend, dtype)
    opt = bpx.LBFGS(max_fun=7, tol=0.0)
    net.fit(to_input(X), y, epochs=100, optimizer=opt, verbose=0)
    assert opt.n_fun <= 7 and not opt.converged and "max_fun" in opt.message
    opt = bpx.LBFGS(tol=0.0)
    history = net.fit(to_input(X), y, epochs=3, optimizer=opt, verbose=0)
    assert opt.n_iter == len(history) == 3 and not opt.converged


def test_history_carries_over_and_reset_forgets(backend, float64, to_input):
    """Two fits of 5 iterations with one optimizer continue the curvature pairs: the same path as one
    fit of 10 (the cost is re-evaluated once at the start of the second call)."""
    X, y = _problem()
    a, b = _net(backend, "float64"), _net(backend, "float64")
    one = bpx.LBFGS(tol=0.0, ftol=0.0)
    h10 = a.fit(to_input(X), y, epochs=10, optimizer=one, verbose=0)
    two = bpx.LBFGS(tol=0.0, ftol=0.0)
    h5 = b.fit(to_input(X), y, epochs=5, optimizer=two, verbose=0)
    h5b = b.fit(to_input(X), y, epochs=5, optimizer=two, verbose=0)
    np.testing.assert_allclose(h5.loss + h5b.loss, h10.loss, rtol=1e-9)
    two.reset()
    assert two._pairs == [] and two._shapes is None
    h = b.fit(to_input(X), y, epochs=2, verbose=0)  # no optimizer: the previous fit's, this LBFGS
    assert b.optimizer is two and two.n_iter == len(h) == 2


def test_weight_decay_and_sample_weight(backend, float64, to_input):
    """Weight decay shrinks the weights; zero weights make samples irrelevant."""
    X, y = _problem()
    plain, decayed = _net(backend, "float64"), _net(backend, "float64")
    plain.fit(to_input(X), y, epochs=50, optimizer=bpx.LBFGS(), verbose=0)
    decayed.fit(to_input(X), y, epochs=50, optimizer=bpx.LBFGS(weight_decay=0.1), verbose=0)
    norm = [sum(float(np.sum(bpx.to_numpy(W) ** 2)) for W in n.params[0::2]) for n in (plain, decayed)]
    assert norm[1] < 0.5 * norm[0]
    w = np.r_[np.ones(20), np.zeros(20)]
    half, weighted = _net(backend, "float64"), _net(backend, "float64")
    h1 = half.fit(to_input(X[:20]), y[:20], epochs=20, optimizer=bpx.LBFGS(), verbose=0)
    h2 = weighted.fit(to_input(X), y, epochs=20, optimizer=bpx.LBFGS(), verbose=0, sample_weight=to_input(w))
    np.testing.assert_allclose(h2.loss, h1.loss, rtol=1e-8)


def test_poisson_regression_reaches_the_glm_optimum(backend, float64, to_input):
    """exp output + Poisson loss with no hidden nonlinearity is a Poisson GLM: L-BFGS finds the point
    where the gradient of the convex cost vanishes (checked against its own stationarity conditions)."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0.0, 1.0, (200, 2))
    Y = rng.poisson(np.exp(X @ np.array([0.5, -1.0]) + 1.0)).astype(float)[:, None]
    net = bpx.MLP([2, 1], output="exp", loss="poisson", backend=backend, dtype="float64", seed=0)
    opt = bpx.LBFGS(tol=1e-10, ftol=0.0)
    net.fit(to_input(X), to_input(Y), epochs=200, optimizer=opt, verbose=0)
    A = bpx.to_numpy(net.forward(to_input(X)))
    # stationarity of the GLM: Xᵀ(A − Y) = 0 and Σ(A − Y) = 0
    np.testing.assert_allclose(X.T @ (A - Y) / 200, 0.0, atol=1e-8)
    assert abs(float(np.mean(A - Y))) < 1e-8
    W = bpx.to_numpy(net.params[0]).ravel()
    np.testing.assert_allclose(W, [0.5, -1.0], atol=0.35)


def test_a_poisson_model_saves_and_loads(backend, to_input, tmp_path):
    X = np.random.default_rng(0).uniform(size=(5, 2))
    net = bpx.MLP([2, 3, 1], output="exp", loss="poisson", backend=backend, seed=2)
    bpx.save(net, tmp_path / "p.npz")
    twin = bpx.load(tmp_path / "p.npz", backend=backend)
    assert (twin.output, twin.loss_name, twin.is_classifier) == ("exp", "poisson", False)
    np.testing.assert_array_equal(bpx.to_numpy(twin.forward(to_input(X))), bpx.to_numpy(net.forward(to_input(X))))


def test_bad_use_is_refused_before_any_work(backend, to_input):
    X, y = _problem()
    net = _net(backend, "float32")
    before = [bpx.to_numpy(p).copy() for p in net.params]
    with pytest.raises(ValueError, match="full batch.*batch_size must be None"):
        net.fit(to_input(X), y, epochs=2, batch_size=8, optimizer=bpx.LBFGS(), verbose=0)
    with pytest.raises(TypeError, match="net.fit"):
        net.train_step(to_input(X), y, bpx.LBFGS())
    with pytest.raises(ValueError, match="sample_weight"):
        net.fit(to_input(X), y, optimizer=bpx.LBFGS(), verbose=0, sample_weight=to_input(-np.ones(40)))
    for name, value in (("history_size", 0), ("max_fun", 0), ("max_ls", 0)):
        with pytest.raises(ValueError, match=name):
            bpx.LBFGS(**{name: value})
    with pytest.raises(ValueError, match="tol"):
        bpx.LBFGS(tol=-1.0)
    for a, b in zip(before, net.params):
        np.testing.assert_array_equal(a, bpx.to_numpy(b))
    other = bpx.MLP([4, 3], backend=backend)
    opt = bpx.LBFGS()
    net.fit(to_input(X), y, epochs=1, optimizer=opt, verbose=0)
    with pytest.raises(ValueError, match="shapes"):
        other.fit(to_input(X), y, epochs=1, optimizer=opt, verbose=0)


def test_validation_data_is_monitored(backend, to_input):
    X, y = _problem(m=60)
    net = _net(backend, "float32")
    history = net.fit(to_input(X[:40]), y[:40], epochs=5, optimizer=bpx.LBFGS(), verbose=0,
                      validation_data=(to_input(X[40:]), y[40:]))
    assert len(history.val_loss) == len(history.loss) == len(history.val_accuracy) == 5
    assert history.val_loss[-1] == pytest.approx(net.loss(to_input(X[40:]), y[40:]), rel=1e-5)


def test_a_non_finite_start_is_refused_and_leaves_the_network(backend, to_input):
    X, y = _problem()
    net = bpx.MLP([4, 6, 3], activation="identity", backend=backend, dtype="float32", seed=3)
    before = [bpx.to_numpy(p).copy() for p in net.params]
    with pytest.raises(bpx.TrainingDiverged, match="L-BFGS cannot start"):
        huge = np.full_like(X, np.finfo(np.float32).max, dtype=np.float32)  # Z overflows to inf
        net.fit(to_input(huge), y, epochs=3, optimizer=bpx.LBFGS(), verbose=0)
    for a, b in zip(before, net.params):
        np.testing.assert_array_equal(a, bpx.to_numpy(b))
