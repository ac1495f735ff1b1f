"""bpx.to_torch / bpx.from_torch / bpx.from_sklearn: round trips give equal outputs, on the session's
backend; unsupported modules and estimators are refused with errors naming them."""

import numpy as np
import pytest

import bpx
import bpx.integrations._interop as interop
from bpx.nn._activations import ACTIVATIONS

CLASSIFIER_LOSS = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}


def host_dtype(backend):
    return "float64" if backend.has_dtype("float64") else "float32"


def tolerance(dtype):
    return {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-12)}[dtype]


def trained(backend, hidden, output, dtype, sizes=(5, 8, 6, 3)):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, sizes[0]))
    net = bpx.MLP(list(sizes), activation=hidden, output=output, loss=CLASSIFIER_LOSS.get(output, "mse"),
                  backend=backend, dtype=dtype, seed=4)
    if output == "softmax":
        Y = rng.integers(0, sizes[-1], 40)
    elif output == "sigmoid":
        Y = (rng.random((40, sizes[-1])) < 0.5).astype(float)
    else:
        Y = rng.normal(size=(40, sizes[-1]))
    net.fit(X, Y, epochs=2, batch_size=10, verbose=0)
    return net


def probe(n, dtype, m=17):
    return (np.random.default_rng(9).normal(size=(m, n)) * 2).astype(dtype)


# -- PyTorch -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("output", list(ACTIVATIONS))
@pytest.mark.parametrize("hidden", list(ACTIVATIONS))
def test_to_torch_and_back_give_equal_outputs(backend, torch, hidden, output):
    """to_torch ends in logits for softmax/sigmoid (PyTorch's convention; probabilities=True appends the
    output activation), and reads back: a 3-unit sigmoid (multilabel) network with output="sigmoid",
    since three logits are a softmax classifier's by default."""
    dtype = host_dtype(backend)
    net = trained(backend, hidden, output, dtype)
    X = probe(net.n_features, dtype)
    expected = bpx.to_numpy(net.forward(X))
    logits = {"softmax": lambda z: torch.softmax(z, dim=1), "sigmoid": torch.sigmoid}.get(output, lambda z: z)
    for probabilities in (False, True):
        module = bpx.to_torch(net, probabilities=probabilities)
        with torch.no_grad():
            got = module(torch.from_numpy(X))
        got = (got if probabilities else logits(got)).numpy()
        np.testing.assert_allclose(got, expected, **tolerance(dtype))
        twin = bpx.from_torch(module, backend=backend, output="sigmoid" if output == "sigmoid" else None)
        assert (twin.layer_sizes, twin.activation, twin.output, twin.dtype, twin.loss_name) == (
            net.layer_sizes, net.activation, net.output, dtype, net.loss_name)
        for a, b in zip(twin.params, net.params):
            np.testing.assert_array_equal(bpx.to_numpy(a), bpx.to_numpy(b))
        np.testing.assert_array_equal(bpx.to_numpy(twin.forward(X)), expected)


def test_to_torch_uses_native_modules_where_they_give_the_same_numbers(backend, torch):
    net = trained(backend, "leaky_relu", "softmax", host_dtype(backend))
    kinds = [type(m).__name__ for m in bpx.to_torch(net)]
    assert kinds == ["Linear", "LeakyReLU", "Linear", "LeakyReLU", "Linear"]  # logits
    assert type(bpx.to_torch(net, probabilities=True)[-1]).__name__ == "Softmax"
    assert not any(p.requires_grad is False for p in bpx.to_torch(net).parameters())


def test_an_activation_without_a_torch_twin_runs_bpx_code_and_reads_back(backend, torch, monkeypatch):
    monkeypatch.setattr(interop, "TORCH_MODULES", {k: v for k, v in interop.TORCH_MODULES.items() if k != "tanh"})
    dtype = host_dtype(backend)
    net = trained(backend, "tanh", "sigmoid", dtype)
    module = bpx.to_torch(net, probabilities=True)
    assert type(module[1]).__name__ == "BpxActivation" and module[1].bpx_activation == "tanh"
    X = probe(net.n_features, dtype)
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(X)).numpy(), bpx.to_numpy(net.forward(X)), **tolerance(dtype))
    assert bpx.from_torch(module).activation == "tanh"


def test_a_user_activation_outside_the_table_runs_in_torch_as_bpx_code(backend, torch):
    from bpx.nn._activations import Activation

    class Cube(Activation):
        name = "cube"

        def __call__(self, Z):
            return Z * Z * Z

    dtype = host_dtype(backend)
    net = trained(backend, "tanh", "identity", dtype)
    net.layers[0].activation = net.layers[1].activation = Cube()
    module = bpx.to_torch(net)
    assert module[1].bpx_activation == "cube"
    X = probe(net.n_features, dtype)
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(X)).numpy(), bpx.to_numpy(net.forward(X)), **tolerance(dtype))


def test_from_torch_reads_a_torch_built_network(backend, torch):
    torch.manual_seed(0)
    dtype = host_dtype(backend)
    tdtype = getattr(torch, dtype)
    module = torch.nn.Sequential(torch.nn.Linear(4, 7, dtype=tdtype), torch.nn.Tanh(), torch.nn.Dropout(0.5),
                                 torch.nn.Linear(7, 5, bias=False, dtype=tdtype), torch.nn.Tanh(), torch.nn.Identity(),
                                 torch.nn.Linear(5, 3, dtype=tdtype), torch.nn.Softmax(dim=-1)).eval()
    net = bpx.from_torch(module, backend=backend)
    assert (net.layer_sizes, net.activation, net.output, net.loss_name) == ([4, 7, 5, 3], "tanh", "softmax", "cross_entropy")
    assert net.dropout == [0.5, 0.0]  # the Dropout after the first hidden layer
    X = probe(4, dtype)
    with torch.no_grad():
        expected = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(bpx.to_numpy(net.predict_proba(X)), expected, **tolerance(dtype))
    regressor = bpx.from_torch(torch.nn.Sequential(torch.nn.Linear(4, 2, dtype=tdtype)), output="identity",
                               backend=backend)
    assert (regressor.output, regressor.loss_name) == ("identity", "mse")
    regressor = bpx.from_torch(torch.nn.Sequential(torch.nn.Linear(4, 2, dtype=tdtype), torch.nn.Identity()),
                               backend=backend)
    assert (regressor.output, regressor.loss_name) == ("identity", "mse")


def test_the_standard_pytorch_classifier_imports_as_softmax_and_cross_entropy(backend, torch):
    """Linear, ReLU, Linear (logits, trained with CrossEntropyLoss): softmax + cross-entropy, whose
    probabilities are torch.softmax of the logits and whose loss is CrossEntropyLoss's."""
    torch.manual_seed(1)
    dtype = host_dtype(backend)
    nn, tdtype = torch.nn, getattr(torch, dtype)
    module = nn.Sequential(nn.Linear(4, 6, dtype=tdtype), nn.ReLU(), nn.Linear(6, 3, dtype=tdtype)).eval()
    X = probe(4, dtype)
    y = np.random.default_rng(3).integers(0, 3, len(X))
    with torch.no_grad():
        logits = module(torch.from_numpy(X))
        expected_p = torch.softmax(logits, dim=1).numpy()
        expected_loss = float(nn.CrossEntropyLoss()(logits, torch.from_numpy(y)))
    for kw in ({}, {"loss": "cross_entropy"}, {"output": "softmax"}):
        net = bpx.from_torch(module, backend=backend, **kw)
        assert (net.output, net.loss_name) == ("softmax", "cross_entropy"), kw
        np.testing.assert_allclose(bpx.to_numpy(net.predict_proba(X)), expected_p, **tolerance(dtype))
        np.testing.assert_allclose(float(bpx.to_numpy(net.loss(X, y))), expected_loss, **tolerance(dtype))
    # LogSoftmax (NLLLoss): the same network; its probabilities are exp of the module's output
    logsoftmax = nn.Sequential(*module, nn.LogSoftmax(dim=1)).eval()
    net = bpx.from_torch(logsoftmax, backend=backend)
    assert (net.output, net.loss_name) == ("softmax", "cross_entropy")
    np.testing.assert_allclose(bpx.to_numpy(net.predict_proba(X)), expected_p, **tolerance(dtype))
    # one logit (BCEWithLogitsLoss): sigmoid + binary cross-entropy; a regression says so
    one = nn.Sequential(nn.Linear(4, 1, dtype=tdtype))
    assert (bpx.from_torch(one).output, bpx.from_torch(one).loss_name) == ("sigmoid", "binary_cross_entropy")
    for kw in ({"output": "identity"}, {"loss": "mse"}):
        assert (bpx.from_torch(module, **kw).output, bpx.from_torch(module, **kw).loss_name) == ("identity", "mse")
    assert bpx.from_torch(module, loss="binary_cross_entropy").output == "sigmoid"
    with pytest.raises(ValueError, match="output must be one of 'softmax', 'sigmoid', 'identity'"):
        bpx.from_torch(module, output="tanh")
    with pytest.raises(ValueError, match="output='sigmoid', but the module ends in Softmax"):
        bpx.from_torch(nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1)), output="sigmoid")


def test_to_torch_gives_the_logits_cross_entropy_loss_wants(backend, torch):
    """No double softmax: CrossEntropyLoss on to_torch(net)'s output is the network's own loss."""
    dtype = host_dtype(backend)
    net = trained(backend, "relu", "softmax", dtype)
    X = probe(net.n_features, dtype)
    y = np.random.default_rng(5).integers(0, 3, len(X))
    with torch.no_grad():
        loss = float(torch.nn.CrossEntropyLoss()(bpx.to_torch(net)(torch.from_numpy(X)), torch.from_numpy(y)))
    np.testing.assert_allclose(loss, float(bpx.to_numpy(net.loss(X, y))), **tolerance(dtype))
    with pytest.raises(TypeError, match="probabilities must be True or False"):
        bpx.to_torch(net, probabilities="yes")


def test_dropout_survives_the_round_trip(backend, torch):
    dtype = host_dtype(backend)
    net = bpx.MLP([5, 8, 6, 3], dropout=[0.3, 0.1], backend=backend, dtype=dtype, seed=2)
    module = bpx.to_torch(net)
    assert [type(m).__name__ for m in module] == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert [m.p for m in module if isinstance(m, torch.nn.Dropout)] == [0.3, 0.1]
    assert not module.training  # eval mode: dropout off, the output is the network's
    twin = bpx.from_torch(module, backend=backend)
    assert twin.dropout == [0.3, 0.1]
    X = probe(5, dtype)
    np.testing.assert_array_equal(bpx.to_numpy(twin.forward(X)), bpx.to_numpy(net.forward(X)))
    nn = torch.nn
    with pytest.raises(ValueError, match=r"module\[0\] \(Dropout\(p=0.2.*drops inputs"):
        bpx.from_torch(nn.Sequential(nn.Dropout(0.2), nn.Linear(3, 2)))
    with pytest.raises(ValueError, match=r"ends in Dropout\(0.2\) after its output layer"):
        bpx.from_torch(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Dropout(0.2)))


@pytest.mark.parametrize("case, error, match", [
    ("conv", ValueError, r"module\[1\] \(Conv1d.*not a supported activation"),
    ("slope", ValueError, r"module\[1\] \(LeakyReLU\(negative_slope=0.2\)\) is not a supported activation"),
    ("softmax_dim0", ValueError, r"module\[3\] \(Softmax\(dim=0\)\) is not a supported activation"),
    ("mixed", ValueError, "hidden layers use different activations"),
    ("twice", ValueError, r"module\[2\] \(Tanh\) follows another activation"),
    ("sizes", ValueError, r"module\[2\] takes 5 features, but the layer before gives 6"),
    ("first", ValueError, r"module\[0\] \(ReLU\) is not supported here"),
    ("empty", ValueError, "holds no Linear layer"),
    ("not_sequential", TypeError, "must be a torch.nn.Sequential"),
    ("half", TypeError, "torch.float16; pass dtype="),
])
def test_from_torch_refuses_what_bpx_cannot_represent(torch, case, error, match):
    nn = torch.nn
    modules = {
        "conv": lambda: nn.Sequential(nn.Linear(3, 4), nn.Conv1d(1, 1, 1)),
        "slope": lambda: nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.2), nn.Linear(4, 2)),
        "softmax_dim0": lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Softmax(dim=0)),
        "mixed": lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2)),
        "twice": lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Tanh(), nn.Linear(4, 2)),
        "sizes": lambda: nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(5, 2)),
        "first": lambda: nn.Sequential(nn.ReLU(), nn.Linear(3, 2)),
        "empty": lambda: nn.Sequential(nn.Identity()),
        "not_sequential": lambda: nn.Linear(3, 2),
        "half": lambda: nn.Sequential(nn.Linear(3, 2).half()),
    }
    with pytest.raises(error, match=match):
        bpx.from_torch(modules[case]())


def test_to_torch_refuses_what_is_not_a_network(torch):
    with pytest.raises(TypeError, match="net must be a bpx.MLP"):
        bpx.to_torch("model.npz")


# -- scikit-learn ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def neural_network():
    pytest.importorskip("sklearn")
    from sklearn import neural_network

    return neural_network


def blobs(n_classes, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, 90)
    X = rng.normal(size=(90, 4)) + y[:, None] * 1.5
    return X, y


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("task", ["multiclass", "binary", "multilabel", "regression", "regression2"])
def test_from_sklearn_gives_the_estimators_outputs(backend, neural_network, task, activation):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    X, y = blobs(3 if task == "multiclass" else 2)
    labels = np.array(["ant", "bee", "cow"])[y]
    targets = {"multiclass": labels, "binary": labels, "multilabel": np.stack([y, 1 - y, y], axis=1),
               "regression": X[:, 0] * 2 - X[:, 1], "regression2": X[:, :2] * 0.5}[task]
    cls = neural_network.MLPRegressor if task.startswith("regression") else neural_network.MLPClassifier
    est = cls(hidden_layer_sizes=(7, 5), activation=activation, max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, targets)
    dtype = host_dtype(backend)
    net = bpx.from_sklearn(est, backend=backend, dtype=dtype)
    assert net.backend == backend and net.dtype == dtype and net.layer_sizes == [4, 7, 5, est.n_outputs_]
    got = bpx.to_numpy(net.forward(X))
    if task.startswith("regression"):
        expected = est.predict(X).reshape(len(X), -1)
    else:
        expected = est.predict_proba(X)
        if task == "binary":
            expected = expected[:, 1:]
    np.testing.assert_allclose(got, expected, **tolerance(dtype))
    if task in ("multiclass", "binary"):
        assert net.classes == [str(c) for c in est.classes_]
        index = got[:, 0] >= 0.5 if task == "binary" else got.argmax(axis=1)
        assert list(np.asarray(net.classes)[index.astype(int)]) == list(est.predict(X))
    else:
        assert net.classes is None
    back = bpx.to_sklearn(net)  # and back into scikit-learn, through bpx.sklearn
    assert type(back).__name__ == cls.__name__ and back.out_activation_ == est.out_activation_
    if task.startswith("regression"):
        np.testing.assert_allclose(back.predict(X), est.predict(X), **tolerance(dtype))
    else:
        np.testing.assert_allclose(back.predict_proba(X), est.predict_proba(X), **tolerance(dtype))
        assert [str(v) for v in np.ravel(back.predict(X))] == [str(v) for v in np.ravel(est.predict(X))]


def test_from_sklearn_reads_bpx_estimators_too(backend, neural_network):
    from bpx.sklearn import MLPClassifier

    X, y = blobs(3)
    est = MLPClassifier(hidden_layer_sizes=(6,), max_iter=5, random_state=0, backend=backend, dtype="float32")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    net = bpx.from_sklearn(est, backend=backend)
    assert net.dtype == "float32"
    np.testing.assert_allclose(bpx.to_numpy(net.predict_proba(X)), est.predict_proba(X), rtol=1e-6, atol=1e-7)


def test_from_sklearn_refuses_what_it_cannot_read(neural_network):
    with pytest.raises(ValueError, match="not fitted"):
        bpx.from_sklearn(neural_network.MLPClassifier())
    with pytest.raises(TypeError, match="must be a scikit-learn .*MLPClassifier or MLPRegressor, got LinearRegression"):
        from sklearn.linear_model import LinearRegression

        bpx.from_sklearn(LinearRegression())


@pytest.mark.parametrize("output, k, classes", [
    ("softmax", 3, ["ant", "bee", "cow"]), ("softmax", 2, None), ("sigmoid", 1, ["no", "yes"]), ("sigmoid", 3, None),
    ("identity", 1, None), ("identity", 2, None),
])
def test_to_sklearn_wraps_the_network_in_a_fitted_bpx_estimator(backend, neural_network, output, k, classes):
    from sklearn.base import clone

    dtype = host_dtype(backend)
    net = trained(backend, "tanh", output, dtype, sizes=(5, 6, k))
    net.classes = classes
    est = bpx.to_sklearn(net)
    X = probe(5, dtype)
    A = bpx.to_numpy(net.forward(X))
    if output == "identity":
        np.testing.assert_array_equal(est.predict(X), A[:, 0] if k == 1 else A)
    else:
        proba = est.predict_proba(X)
        np.testing.assert_array_equal(proba, np.concatenate([1 - A, A], axis=1) if k == 1 else A)
        names = np.asarray(classes if classes is not None else np.arange(max(k, 2)))
        expected = names[(A[:, 0] >= 0.5).astype(int)] if k == 1 else (A >= 0.5).astype(int) if output == "sigmoid" \
            else names[A.argmax(axis=1)]
        np.testing.assert_array_equal(est.predict(X), expected)
    twin = bpx.from_sklearn(est, backend=backend)
    for a, b in zip(twin.params, net.params):
        np.testing.assert_array_equal(bpx.to_numpy(a), bpx.to_numpy(b))
    assert clone(est).get_params() == est.get_params()


def test_to_sklearn_refuses_networks_scikit_learn_cannot_express(backend, neural_network):
    with pytest.raises(ValueError, match="hidden activation 'leaky_relu' has no scikit-learn equivalent"):
        bpx.to_sklearn(bpx.MLP([3, 4, 2], activation="leaky_relu", backend=backend))
    with pytest.raises(ValueError, match="output 'tanh' has no scikit-learn equivalent"):
        bpx.to_sklearn(bpx.MLP([3, 4, 2], output="tanh", loss="mse", backend=backend))
    with pytest.raises(TypeError, match="net must be a bpx.MLP"):
        bpx.to_sklearn(None)


FITTED = ("coefs_", "intercepts_", "n_features_in_", "n_layers_", "n_outputs_", "out_activation_", "n_iter_", "t_",
          "loss_", "loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_")


@pytest.mark.parametrize("output, k, classes", [
    ("softmax", 3, ["ant", "bee", "cow"]), ("softmax", 2, None), ("sigmoid", 1, ["no", "yes"]), ("sigmoid", 3, None),
    ("identity", 1, None), ("identity", 2, None),
])
def test_to_sklearn_estimator_continues_training(backend, neural_network, output, k, classes):
    """partial_fit and fit(warm_start=True) go on from net's weights: one (two) epochs of scikit-learn's Adam,
    the same numbers as net.fit with that Adam; every fitted attribute is there from the start."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    dtype = host_dtype(backend)
    net = trained(backend, "tanh", output, dtype, sizes=(5, 6, k))
    net.classes = classes
    rng = np.random.default_rng(11)
    X = rng.normal(size=(30, 5))
    if output == "identity":
        y = Y = rng.normal(size=(30, k))
        y = y[:, 0] if k == 1 else y
    elif output == "sigmoid" and k > 1:
        y = Y = (rng.random((30, k)) < 0.5).astype(np.int64)
    else:
        names = np.asarray(classes if classes is not None else np.arange(max(k, 2)))
        idx = rng.integers(0, max(k, 2), 30)
        y, Y = names[idx], (np.eye(k)[idx] if k > 1 else idx[:, None].astype(float))
    for continued in ("partial_fit", "warm_start"):
        est = bpx.to_sklearn(net).set_params(alpha=0.0, shuffle=False)
        assert all(hasattr(est, name) for name in FITTED), [name for name in FITTED if not hasattr(est, name)]
        assert (est.n_iter_, est.t_, est.loss_curve_, est.best_loss_) == (0, 0, [], np.inf)
        assert est.validation_scores_ is None and est.best_validation_score_ is None
        ref = net.copy()
        adam = bpx.Adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8)
        if continued == "partial_fit":
            est.partial_fit(X, y)
            history = ref.fit(X, Y, epochs=1, batch_size=30, optimizer=adam, shuffle=False, verbose=0)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                est.set_params(warm_start=True, max_iter=2).fit(X, y)
            history = ref.fit(X, Y, epochs=2, batch_size=30, optimizer=adam, shuffle=False, verbose=0)
        for a, b in zip(est.coefs_, ref.weights):
            np.testing.assert_array_equal(a, bpx.to_numpy(b))
        expected = [v / (k if output == "identity" else 1) for v in history.loss]  # scikit-learn averages outputs
        assert est.loss_curve_ == expected and est.loss_ == expected[-1] and est.best_loss_ == min(expected)
        assert (est.n_iter_, est.t_) == (len(expected), 30 * len(expected))
    est = bpx.to_sklearn(net).set_params(warm_start=True, early_stopping=True, max_iter=3, n_iter_no_change=5,
                                         random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert len(est.validation_scores_) == est.n_iter_ == 3
    assert est.best_validation_score_ == max(est.validation_scores_) and est.best_loss_ == np.inf
