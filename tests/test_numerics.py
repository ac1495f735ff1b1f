"""Activations and losses: values, derivatives, and stability for |z| up to 1e3 (warnings are errors)."""

import numpy as np
import pytest

import bpx
from bpx.nn._activations import ACTIVATIONS, log_softmax, softplus
from bpx.nn._losses import LOSSES

EXTREME = np.array([[-1e3, -50.0, -1.0, 0.0, 1.0, 50.0, 1e3]])

REFERENCE = {
    "sigmoid": lambda z: 0.5 * (1 + np.tanh(z / 2)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "identity": lambda z: z,
    "softmax": lambda z: np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True),
    "gelu": lambda z: 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3))),
    "silu": lambda z: z * 0.5 * (1 + np.tanh(z / 2)),
    "softplus": lambda z: np.logaddexp(0, z),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_values_and_stability(backend, dtype, to_input, tol, name):
    Z = to_input(EXTREME.astype(dtype))
    A = bpx.to_numpy(ACTIVATIONS[name](Z))
    assert A.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(A))
    np.testing.assert_allclose(A, REFERENCE[name](EXTREME), **tol(dtype))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_backward_is_the_vector_jacobian_product(backend, float64, to_input, name):
    rng = np.random.default_rng(0)
    z, dA = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    g = ACTIVATIONS[name]
    dZ = bpx.to_numpy(g.backward(to_input(z), g(to_input(z)), to_input(dA)))
    eps = 1e-6
    numeric = np.zeros_like(z)
    for i in np.ndindex(z.shape):
        e = np.zeros_like(z)
        e[i] = eps
        plus = bpx.to_numpy(g(to_input(z + e)))
        minus = bpx.to_numpy(g(to_input(z - e)))
        numeric[i] = np.sum(dA * (plus - minus)) / (2 * eps)
    np.testing.assert_allclose(dZ, numeric, rtol=1e-6, atol=1e-8)


def test_log_softmax_and_softplus_are_finite_at_the_extremes(backend, dtype, to_input, tol):
    Z = to_input(EXTREME.astype(dtype))
    ls = bpx.to_numpy(log_softmax(Z))
    sp = bpx.to_numpy(softplus(Z))
    assert np.all(np.isfinite(ls)) and np.all(np.isfinite(sp))
    np.testing.assert_allclose(sp, np.logaddexp(0, EXTREME), **tol(dtype))
    np.testing.assert_allclose(ls, EXTREME - np.logaddexp.reduce(EXTREME, axis=1, keepdims=True), **tol(dtype))


@pytest.mark.parametrize("loss,output", [("binary_cross_entropy", "sigmoid"), ("cross_entropy", "softmax"),
                                         ("mse", "identity"), ("binary_cross_entropy", "softmax"),
                                         ("cross_entropy", "sigmoid"), ("mse", "sigmoid")])
def test_costs_are_finite_and_honest_at_the_extremes(backend, dtype, to_input, loss, output):
    """Saturated outputs with |z| = 1e3: finite costs, and a confidently wrong answer costs ~|z|
    when computed from the logits (the matched pairs), not a clipped constant."""
    net = bpx.MLP([2, 2], activation="identity", output=output, loss=loss, backend=backend, dtype=dtype)
    net.set_params([np.array([[1e3, -1e3], [0.0, 0.0]]), np.zeros(2)])
    X = to_input(np.array([[1.0, 0.0], [-1.0, 0.0]], dtype=dtype))
    right = to_input(np.array([[1.0, 0.0], [0.0, 1.0]], dtype=dtype))
    wrong = to_input(np.array([[0.0, 1.0], [1.0, 0.0]], dtype=dtype))
    c_right, c_wrong = net.loss(X, right), net.loss(X, wrong)
    assert np.isfinite(c_right) and np.isfinite(c_wrong)
    assert c_right < c_wrong
    if (loss, output) in (("binary_cross_entropy", "sigmoid"), ("cross_entropy", "softmax")):
        assert c_right == pytest.approx(0.0, abs=1e-6)
        assert c_wrong >= 1e3  # honest: the logit gap, not log(eps)
    _, grads = net.loss_and_grads(X, wrong)
    assert all(np.all(np.isfinite(bpx.to_numpy(g))) for g in grads)


def test_zero_log_zero_is_zero(backend, dtype, to_input):
    """A target of 0 against an output of exactly 0 contributes nothing."""
    net = bpx.MLP([1, 2], activation="identity", output="softmax", loss="cross_entropy", backend=backend, dtype=dtype)
    net.set_params([np.array([[1e3, -1e3]]), np.zeros(2)])
    assert net.loss(to_input(np.array([[1.0]], dtype=dtype)), to_input(np.array([[1.0, 0.0]], dtype=dtype))) == 0.0


def test_mse_is_half_the_sum_of_squares_averaged_over_samples(backend, dtype, to_input):
    net = bpx.MLP([1, 2], activation="identity", output="identity", loss="mse", backend=backend, dtype=dtype)
    net.set_params([np.array([[1.0, 2.0]]), np.zeros(2)])
    X = to_input(np.array([[1.0], [2.0]], dtype=dtype))
    Y = to_input(np.zeros((2, 2), dtype=dtype))
    # A = [[1, 2], [2, 4]] -> per-sample ½Σ = 2.5 and 10 -> mean 6.25
    assert net.loss(X, Y) == pytest.approx(6.25, rel=1e-6)


@pytest.mark.parametrize("loss,output", [("binary_cross_entropy", "sigmoid"), ("cross_entropy", "softmax"), ("mse", "identity")])
def test_fused_delta_equals_the_chain_rule(backend, float64, to_input, loss, output):
    """(A − Y)/m for the matched pairs equals ∂C/∂A ⊙ g'(Z) computed the long way."""
    rng = np.random.default_rng(1)
    Z = to_input(rng.standard_normal((5, 3)))
    Y = to_input(np.eye(3)[rng.integers(0, 3, 5)] if loss == "cross_entropy" else rng.uniform(0.1, 0.9, (5, 3)))
    g, L = ACTIVATIONS[output], LOSSES[loss]
    A = g(Z)
    fused = bpx.to_numpy(L.delta(Z, A, Y, g))
    chain = bpx.to_numpy(g.backward(Z, A, L.gradient(A, Y)))
    np.testing.assert_allclose(fused, chain, rtol=1e-9, atol=1e-12)


def test_float32_stays_float32(backend, to_input):
    """No silent upcast: every parameter, gradient and output of a float32 network is float32."""
    net = bpx.MLP([3, 4, 2], backend=backend, dtype="float32")
    X = to_input(np.random.default_rng(0).standard_normal((6, 3)))  # float64 host data is cast
    Y = np.array([0, 1, 1, 0, 1, 0])
    _, grads = net.loss_and_grads(X, Y)
    xp = backend.xp
    assert all(g.dtype == xp.float32 for g in grads)
    assert net.forward(X).dtype == xp.float32
    net.fit(X, Y, epochs=2, optimizer=bpx.Adam(), verbose=0)
    assert all(p.dtype == xp.float32 for p in net.params)
