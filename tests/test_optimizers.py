"""Optimizer update rules, worked by hand, and the in-place fast path against the generic path."""

import numpy as np
import pytest

import bpx

P = np.array([[1.0, -2.0], [0.5, 3.0]])
B = np.array([0.25, -0.5])
G1 = np.array([[0.1, 0.2], [-0.3, 0.4]])
G2 = np.array([[-0.2, 0.1], [0.3, 0.05]])
GB = np.array([0.5, -0.25])


def run(backend, to_input, optimizer, steps=(G1, G2)):
    params = [backend.asarray(P), backend.asarray(B)]
    params = [backend.xp.asarray(p, copy=True) for p in params]
    for g in steps:
        params = optimizer.step(params, [to_input(g), to_input(GB)])
    return [bpx.to_numpy(p) for p in params]


def test_sgd(backend, float64, to_input):
    W, b = run(backend, to_input, bpx.SGD(lr=0.1))
    np.testing.assert_allclose(W, P - 0.1 * G1 - 0.1 * G2, rtol=1e-15)
    np.testing.assert_allclose(b, B - 0.2 * GB, rtol=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum(backend, float64, to_input, nesterov):
    lr, mu = 0.1, 0.9
    v1 = -lr * G1
    v2 = mu * v1 - lr * G2
    if nesterov:
        expected = P + (mu * v1 - lr * G1) + (mu * v2 - lr * G2)
    else:
        expected = P + v1 + v2
    W, _ = run(backend, to_input, bpx.SGD(lr=lr, momentum=mu, nesterov=nesterov))
    np.testing.assert_allclose(W, expected, rtol=1e-14)


def test_adam(backend, float64, to_input):
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    m = v = np.zeros_like(P)
    W = P.copy()
    for t, g in enumerate((G1, G2), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        W = W - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    got, _ = run(backend, to_input, bpx.Adam(lr=lr))
    np.testing.assert_allclose(got, W, rtol=1e-13)


def test_weight_decay_applies_to_weights_not_biases(backend, float64, to_input):
    W, b = run(backend, to_input, bpx.SGD(lr=0.1, weight_decay=0.5), steps=(G1,))
    np.testing.assert_allclose(W, P - 0.1 * (G1 + 0.5 * P), rtol=1e-15)
    np.testing.assert_allclose(b, B - 0.1 * GB, rtol=1e-15)


@pytest.mark.parametrize("make", [lambda **k: bpx.SGD(0.1, **k), lambda **k: bpx.SGD(0.1, momentum=0.9, **k),
                                  lambda **k: bpx.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01, **k),
                                  lambda **k: bpx.Adam(0.01, weight_decay=0.01, **k),
                                  lambda **k: bpx.AdamW(0.01, weight_decay=0.1, clip_norm=0.5, **k),
                                  lambda **k: bpx.RMSprop(0.01, momentum=0.5, centered=True, weight_decay=0.01, **k),
                                  lambda **k: bpx.RMSprop(0.01, clip_value=0.05, **k),
                                  lambda **k: bpx.Adagrad(0.1, lr_decay=0.1, initial_accumulator_value=0.1, **k),
                                  lambda **k: bpx.SGD(bpx.schedules.Cosine(0.1, 16, warmup=3), momentum=0.5, **k)])
def test_in_place_and_generic_paths_give_identical_numbers(backend, dtype, to_input, make):
    X = np.random.default_rng(0).standard_normal((32, 4))
    y = np.random.default_rng(1).integers(0, 3, 32)
    results = []
    for inplace in (True, False):
        net = bpx.MLP([4, 6, 3], backend=backend, dtype=dtype, seed=2)
        net.fit(to_input(X), to_input(y), epochs=4, batch_size=8, optimizer=make(inplace=inplace), verbose=0)
        results.append([bpx.to_numpy(p) for p in net.params])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_an_optimizer_refuses_another_networks_parameters(backend):
    opt = bpx.SGD(0.1, momentum=0.9)
    X = np.zeros((2, 3))
    bpx.MLP([3, 2], backend=backend).train_step(X, np.array([0, 1]), opt)
    with pytest.raises(ValueError, match="use a new optimizer"):
        bpx.MLP([3, 4, 2], backend=backend).train_step(X, np.array([0, 1]), opt)
    opt.reset()
    bpx.MLP([3, 4, 2], backend=backend).train_step(X, np.array([0, 1]), opt)


@pytest.mark.parametrize("make,match", [
    (lambda: bpx.SGD(lr=0), "lr"), (lambda: bpx.SGD(lr=-1), "lr"), (lambda: bpx.SGD(lr=float("nan")), "lr"),
    (lambda: bpx.SGD(lr=0.1, momentum=1.0), "momentum"), (lambda: bpx.SGD(lr=0.1, momentum=-0.1), "momentum"),
    (lambda: bpx.SGD(lr=0.1, nesterov=True), "nesterov"), (lambda: bpx.Adam(beta1=1.0), "beta1"),
    (lambda: bpx.Adam(beta2=float("inf")), "beta2"), (lambda: bpx.Adam(eps=0), "eps"),
    (lambda: bpx.SGD(lr=0.1, weight_decay=-1e-3), "weight_decay"),
    (lambda: bpx.AdamW(weight_decay=-0.1), "weight_decay"), (lambda: bpx.AdamW(beta2=1.0), "beta2"),
    (lambda: bpx.RMSprop(alpha=1.0), "alpha"), (lambda: bpx.RMSprop(eps=0.0), "eps"),
    (lambda: bpx.RMSprop(momentum=1.0), "momentum"), (lambda: bpx.Adagrad(lr_decay=-1.0), "lr_decay"),
    (lambda: bpx.Adagrad(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    (lambda: bpx.Adagrad(eps=float("nan")), "eps"),
])
def test_bad_hyperparameters_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_wrong_types_are_refused():
    with pytest.raises(TypeError, match="lr"):
        bpx.SGD(lr="0.1")
    with pytest.raises(TypeError, match="nesterov"):
        bpx.SGD(lr=0.1, momentum=0.9, nesterov="yes")


def test_adamw_decays_weights_not_biases_and_not_through_the_gradient(backend, float64, to_input):
    lr, wd, eps = 0.01, 0.5, 1e-8
    W, b = run(backend, to_input, bpx.AdamW(lr=lr, weight_decay=wd), steps=(G1,))
    # step 1: m̂ = g, v̂ = g², so Adam's step is lr·g/(|g| + ε); the decay shrinks W by (1 − lr·λ) first
    np.testing.assert_allclose(W, P * (1 - lr * wd) - lr * G1 / (np.abs(G1) + eps), rtol=1e-14)
    np.testing.assert_allclose(b, B - lr * GB / (np.abs(GB) + eps), rtol=1e-14)


def test_rmsprop_and_adagrad_by_hand(backend, float64, to_input):
    W, _ = run(backend, to_input, bpx.RMSprop(lr=0.01, alpha=0.9))
    s1 = 0.1 * G1**2
    W1 = P - 0.01 * (G1 / (np.sqrt(s1) + 1e-8))
    s2 = 0.9 * s1 + 0.1 * G2**2
    np.testing.assert_allclose(W, W1 - 0.01 * (G2 / (np.sqrt(s2) + 1e-8)), rtol=1e-14)
    W, _ = run(backend, to_input, bpx.Adagrad(lr=0.1, lr_decay=0.5))
    s1, s2 = G1**2, G1**2 + G2**2
    expected = P - 0.1 * G1 / (np.sqrt(s1) + 1e-10) - 0.1 / 1.5 * G2 / (np.sqrt(s2) + 1e-10)
    np.testing.assert_allclose(W, expected, rtol=1e-14)
