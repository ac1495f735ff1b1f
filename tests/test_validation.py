"""Every bad input is refused with a clear error naming the argument, before any work is done,
leaving the network and the caller's arrays untouched."""

import numpy as np
import pytest

import bpx

X = np.random.default_rng(0).standard_normal((6, 3))
y = np.array([0, 1, 2, 0, 1, 2])


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(layer_sizes=[3]), ValueError, "at least the input and output"),
    (dict(layer_sizes=[3, 0, 2]), ValueError, r"layer_sizes\[1\] must be a positive integer, got 0"),
    (dict(layer_sizes=[3, -4, 2]), ValueError, r"layer_sizes\[1\]"),
    (dict(layer_sizes=[3, 2.5, 2]), TypeError, r"layer_sizes\[1\] must be a positive integer, got 2.5"),
    (dict(layer_sizes=[3, True, 2]), TypeError, r"layer_sizes\[1\]"),
    (dict(layer_sizes="3,2"), TypeError, "layer_sizes must be a list"),
    (dict(layer_sizes=[3, 2], activation="swish"), ValueError, "activation='swish'.*expected one of sigmoid, tanh"),
    (dict(layer_sizes=[3, 2], output="relu6"), ValueError, "output='relu6'"),
    (dict(layer_sizes=[3, 2], loss="hinge"), ValueError, "loss='hinge'.*mse, binary_cross_entropy, cross_entropy"),
    (dict(layer_sizes=[3, 2], init="zeros"), ValueError, "init='zeros'.*lecun, glorot, he"),
    (dict(layer_sizes=[3, 2], dtype="int32"), TypeError, "dtype must be 'float32' or 'float64'"),
    (dict(layer_sizes=[3, 2], backend="tensorflow"), ValueError, "backend 'tensorflow' is unknown"),
    (dict(layer_sizes=[3, 2], seed=-1), ValueError, "seed"),
    (dict(layer_sizes=[3, 2], seed=1.5), TypeError, "seed"),
    (dict(layer_sizes=[3, 1], output="softmax"), ValueError, "softmax output needs at least 2 units"),
])
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        bpx.MLP(**kwargs)


@pytest.fixture
def net(backend):
    return bpx.MLP([3, 4, 3], backend=backend, seed=0)


BAD_DATA = [
    ("X", lambda: X[:, 0], y, ValueError, r"X must be 2-D .* 1-D array of shape \(6,\); use X.reshape\(1, -1\)"),
    ("X", lambda: X[:, :2], y, ValueError, "X has 2 features per sample, but the network expects 3"),
    ("X", lambda: X[:0], y[:0], ValueError, "X is empty"),
    ("X", lambda: np.zeros((6, 0)), y, ValueError, "X has 0 features"),
    ("X", lambda: np.where(np.eye(6, 3) > 0, np.nan, X), y, ValueError, "X contains NaN or infinite"),
    ("X", lambda: np.where(np.eye(6, 3) > 0, np.inf, X), y, ValueError, "X contains NaN or infinite"),
    ("X", lambda: X + 1j, y, TypeError, "X must hold real numbers.*complex"),
    ("X", lambda: X.astype(str), y, TypeError, "X must hold real numbers"),
    ("X", lambda: X.astype(object), y, TypeError, "X must hold real numbers"),
    ("X", lambda: X.astype(np.float16), y, TypeError, "float16"),
    ("X", lambda: X[None], y, ValueError, "X must be 2-D"),
    ("Y", lambda: X, y[:5], ValueError, "Y has 5 samples but X has 6"),
    ("Y", lambda: X, np.array([0, 1, 2, 0, 1, 3]), ValueError, "class label 3, but the output layer has 3 units"),
    ("Y", lambda: X, np.array([0, 1, 2, 0, 1, -1]), ValueError, "class label -1"),
    ("Y", lambda: X, y + 0.5, ValueError, "integer class labels; it holds fractions"),
    ("Y", lambda: X, np.eye(4)[y], ValueError, "Y has 4 outputs per sample, but the network expects 3"),
    ("Y", lambda: X, np.where(np.eye(6, 3) > 0, np.nan, np.eye(3)[y]), ValueError, "Y contains NaN"),
    ("Y", lambda: X, y.astype(str), TypeError, "Y must hold real numbers"),
    ("Y", lambda: X, None, TypeError, "Y must be an array"),
]


@pytest.mark.parametrize("which,make_X,Y,error,match", BAD_DATA)
@pytest.mark.parametrize("call", ["fit", "loss", "loss_and_grads", "train_step"])
def test_bad_data_is_refused_and_nothing_changes(net, which, make_X, Y, error, match, call):
    before = [bpx.to_numpy(p).copy() for p in net.params]
    args = {"fit": lambda: net.fit(make_X(), Y, epochs=1, verbose=0),
            "loss": lambda: net.loss(make_X(), Y),
            "loss_and_grads": lambda: net.loss_and_grads(make_X(), Y),
            "train_step": lambda: net.train_step(make_X(), Y, bpx.SGD(0.1))}
    with pytest.raises(error, match=match):
        args[call]()
    for p, b in zip(net.params, before):
        np.testing.assert_array_equal(bpx.to_numpy(p), b)


@pytest.mark.parametrize("which,make_X,Y,error,match", [case for case in BAD_DATA if case[0] == "X"])
def test_bad_X_for_forward_and_predict(net, which, make_X, Y, error, match):
    for method in (net.forward, net.predict, net.predict_proba):
        with pytest.raises(error, match=match):
            method(make_X())


def test_a_single_feature_vector_gets_the_other_hint(backend):
    net = bpx.MLP([1, 2, 1], output="identity", loss="mse", backend=backend)
    with pytest.raises(ValueError, match=r"use X.reshape\(-1, 1\) for a single feature"):
        net.forward(np.arange(5.0))


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(epochs=0), ValueError, "epochs must be an integer >= 1, got 0"),
    (dict(epochs=-3), ValueError, "epochs"),
    (dict(epochs=2.0), TypeError, "epochs"),
    (dict(epochs=float("nan")), TypeError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=1.5), TypeError, "batch_size"),
    (dict(optimizer="sgd"), TypeError, "optimizer must be a bpx optimizer"),
    (dict(shuffle="yes"), TypeError, "shuffle"),
    (dict(verbose=-1), ValueError, "verbose"),
    (dict(validation_split=1.0), ValueError, "validation_split"),
    (dict(validation_split=float("nan")), ValueError, "validation_split"),
    (dict(validation_split=0.2, validation_data=(X, y)), ValueError, "not both"),
    (dict(validation_data=X), TypeError, "validation_data must be a pair"),
    (dict(validation_data=(X[:, :2], y)), ValueError, "X has 2 features"),
    (dict(early_stopping=0), ValueError, "early_stopping"),
])
def test_bad_fit_arguments(net, kwargs, error, match):
    before = [bpx.to_numpy(p).copy() for p in net.params]
    with pytest.raises(error, match=match):
        net.fit(X, y, **kwargs)
    for p, b in zip(net.params, before):
        np.testing.assert_array_equal(bpx.to_numpy(p), b)


def test_set_params_type_errors(net):
    with pytest.raises(TypeError, match="params must be a list"):
        net.set_params(3)
    with pytest.raises(TypeError, match=r"params\[0\] \(W1\) must hold real numbers"):
        net.set_params([np.full((3, 4), "a"), np.zeros(4), np.zeros((4, 3)), np.zeros(3)])


@pytest.mark.parametrize("row", [0, 10, 22])
def test_finiteness_is_checked_block_by_block(backend, to_input, monkeypatch, row):
    """as_matrix checks FINITE_CHECK_VALUES values at a time (bounded memory): a NaN in any block is found,
    also in a last, partial block."""
    import bpx.data._adapter as validation

    monkeypatch.setattr(validation, "FINITE_CHECK_VALUES", 8)  # 2 rows of 4 per block; 23 rows
    X = np.arange(92, dtype=np.float64).reshape(23, 4) / 92
    assert validation.all_finite(bpx.get_backend("numpy").asarray(X))
    net = bpx.MLP([4, 2], backend=backend)
    net.forward(to_input(X))  # finite: accepted
    X[row, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        bpx.to_numpy(net.forward(to_input(X)))
