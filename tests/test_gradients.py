"""Backprop against central differences in float64, for every activation × output/loss pair."""

import itertools

import numpy as np
import pytest

import bpx
from bpx.data._adapter import as_data, as_sample_weight
from bpx.nn._activations import ACTIVATIONS
from bpx.nn._functional import loss_and_grads
from bpx.nn._losses import LOSSES

HIDDEN = [name for name in ACTIVATIONS if name != "softmax"] + ["softmax"]
OUTPUT_LOSS = list(itertools.product(ACTIVATIONS, LOSSES))


def data(n_out, loss, m=7, n_in=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n_in))
    if loss == "cross_entropy":
        Y = np.eye(n_out)[rng.integers(0, n_out, m)]
    elif loss == "binary_cross_entropy":
        Y = rng.uniform(0.05, 0.95, (m, n_out))  # soft targets exercise every term
    elif loss == "poisson":
        Y = rng.poisson(2.0, (m, n_out)).astype(float)  # counts, zeros included
    else:
        Y = rng.standard_normal((m, n_out))
    return X, Y


@pytest.mark.parametrize("output,loss", OUTPUT_LOSS)
def test_every_output_and_loss_pair(backend, float64, to_input, output, loss):
    if loss == "poisson":
        with pytest.raises(ValueError, match="loss='poisson' needs output='exp'"):
            bpx.MLP([4, 5, 3], output=output, loss=loss, backend=backend)
        return
    if loss != "mse" and output not in ("sigmoid", "softmax"):
        with pytest.raises(ValueError, match="output must be 'sigmoid' or 'softmax'"):
            bpx.MLP([4, 5, 3], output=output, loss=loss, backend=backend)
        return
    net = bpx.MLP([4, 5, 3], activation="tanh", output=output, loss=loss, backend=backend, dtype="float64", seed=1)
    X, Y = data(3, loss)
    errors = bpx.gradcheck(net, to_input(X), to_input(Y))
    assert set(errors) == {"W1", "b1", "W2", "b2"}
    assert max(errors.values()) <= 1e-7, errors


@pytest.mark.parametrize("hidden", HIDDEN)
def test_every_hidden_activation_two_hidden_layers(backend, float64, to_input, hidden):
    net = bpx.MLP([4, 6, 5, 3], activation=hidden, output="softmax", loss="cross_entropy",
                  backend=backend, dtype="float64", seed=2)
    X, Y = data(3, "cross_entropy", seed=3)
    errors = bpx.gradcheck(net, to_input(X), to_input(Y))
    assert max(errors.values()) <= 1e-7, errors


def test_gradcheck_catches_a_wrong_gradient(backend, float64, monkeypatch):
    """A deliberately broken BP4 (db summed over the wrong quantity) must be reported."""
    import bpx.nn._layers as layers

    net = bpx.MLP([3, 4, 2], backend=backend, dtype="float64", seed=0)
    X, Y = data(2, "cross_entropy", n_in=3)
    original = layers.Dense.gradients

    def broken(self, dZ, A_prev):
        dW, db = original(self, dZ, A_prev)
        return dW, db * 1.01

    monkeypatch.setattr(layers.Dense, "gradients", broken)
    errors = bpx.gradcheck(net, X, Y)
    assert errors["b1"] > 1e-3 and errors["b2"] > 1e-3
    assert errors["W1"] < 1e-7


def test_gradcheck_leaves_the_network_untouched(backend, dtype):
    net = bpx.MLP([3, 4, 2], backend=backend, dtype=dtype, seed=0)
    before = [bpx.to_numpy(p).copy() for p in net.params]
    X, Y = data(2, "cross_entropy", n_in=3)
    if dtype == "float32" and not backend.has_dtype("float64"):
        with pytest.raises(ValueError, match="float64"):
            bpx.gradcheck(net, X, Y)
    else:
        bpx.gradcheck(net, X, Y)
    for a, b in zip(before, net.params):
        np.testing.assert_array_equal(a, bpx.to_numpy(b))
    assert net.dtype == dtype


def test_poisson_with_its_exp_output(backend, float64, to_input):
    """The half Poisson deviance with the exp output (its fused delta (A − Y)/m), and the long way."""
    X, Y = data(3, "poisson")
    net = bpx.MLP([4, 5, 3], activation="tanh", output="exp", loss="poisson", backend=backend, dtype="float64", seed=1)
    errors = bpx.gradcheck(net, to_input(X), to_input(Y))
    assert max(errors.values()) <= 1e-7, errors
    # the cost is scikit-learn's: mean over samples of Σ_j [y log(y/a) − y + a], with 0 log 0 = 0
    A = bpx.to_numpy(net.forward(to_input(X)))
    ylogy = np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1.0)), 0.0)
    expected = np.mean(np.sum(ylogy - Y * np.log(A) - Y + A, axis=1))
    assert net.loss(to_input(X), to_input(Y)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("output,loss", [("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy"),
                                         ("identity", "mse"), ("exp", "poisson"), ("softmax", "mse"),
                                         ("sigmoid", "cross_entropy"), ("softmax", "binary_cross_entropy")])
def test_weighted_cost_and_gradients(backend, float64, to_input, output, loss):
    """sample_weight: the weighted mean Σ ω_i loss_i (ω = w / Σw) and its gradients, by finite differences;
    integer weights equal repeating rows."""
    X, Y = data(3, loss)
    w = np.array([0.5, 2.0, 0.0, 1.0, 3.0, 1.5, 0.25])
    net = bpx.MLP([4, 5, 3], activation="tanh", output=output, loss=loss, backend=backend, dtype="float64", seed=4)
    errors = bpx.gradcheck(net, to_input(X), to_input(Y), sample_weight=to_input(w))
    assert max(errors.values()) <= 1e-7, errors
    counts = np.array([1, 2, 0, 1, 3, 2, 1])
    rows = np.repeat(np.arange(len(counts)), counts)
    weighted = loss_and_grads(net, net.params, *as_data(net, to_input(X), to_input(Y)),
                              bpx.nn.normalized_weights(as_sample_weight(net, to_input(counts), 7)))
    repeated = loss_and_grads(net, net.params, *as_data(net, to_input(X[rows]), to_input(Y[rows])))
    np.testing.assert_allclose(float(weighted[0]), float(repeated[0]), rtol=1e-12)
    for a, b in zip(weighted[1], repeated[1]):
        np.testing.assert_allclose(bpx.to_numpy(a), bpx.to_numpy(b), rtol=1e-10, atol=1e-13)
