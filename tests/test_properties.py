"""Property-based tests (hypothesis): random architectures, batches and dtypes."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpx
from bpx.nn._activations import ACTIVATIONS

# derandomize: the same examples on every run, so CI is reproducible; explore with --hypothesis-seed=random
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
PAIRS = [("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy"), ("identity", "mse"), ("tanh", "mse"),
         ("softmax", "mse"), ("sigmoid", "cross_entropy")]


@st.composite
def problems(draw, max_hidden=3):
    hidden = draw(st.lists(st.integers(1, 6), min_size=0, max_size=max_hidden))
    n_in, n_out = draw(st.integers(1, 5)), draw(st.integers(2, 4))
    output, loss = draw(st.sampled_from(PAIRS))
    activation = draw(st.sampled_from([a for a in ACTIVATIONS if a not in ("relu", "leaky_relu")]))
    m = draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n_in))
    if loss == "cross_entropy" and output == "softmax":
        Y = np.eye(n_out)[rng.integers(0, n_out, m)]
    else:
        Y = rng.uniform(0.05, 0.95, (m, n_out))
    return dict(layer_sizes=[n_in, *hidden, n_out], activation=activation, output=output, loss=loss, seed=seed), X, Y


def usable_dtype(backend, dtype):
    return "float32" if dtype == "float64" and not backend.has_dtype("float64") else dtype


@SETTINGS
@given(problem=problems(), dtype=st.sampled_from(["float32", "float64"]))
def test_random_networks_pass_gradcheck(backend, problem, dtype):
    if not backend.has_dtype("float64"):
        pytest.skip(f"{backend.spec} has no float64 for the gradient check")
    spec, X, Y = problem
    net = bpx.MLP(**spec, backend=backend, dtype=dtype)
    errors = bpx.gradcheck(net, X, Y)
    assert max(errors.values()) <= 1e-6, (spec, errors)


@SETTINGS
@given(problem=problems(), dtype=st.sampled_from(["float32", "float64"]), data=st.data())
def test_prediction_on_a_subset_equals_those_rows_of_the_full_prediction(backend, problem, dtype, data):
    dtype = usable_dtype(backend, dtype)
    spec, X, _ = problem
    net = bpx.MLP(**spec, backend=backend, dtype=dtype)
    rows = data.draw(st.lists(st.integers(0, X.shape[0] - 1), min_size=1, max_size=X.shape[0]))
    full = bpx.to_numpy(net.forward(X))
    part = bpx.to_numpy(net.forward(X[rows]))
    rtol = {"float32": 1e-5, "float64": 1e-12}[dtype]
    np.testing.assert_allclose(part, full[rows], rtol=rtol, atol=rtol)
    if spec["output"] in ("softmax", "sigmoid"):
        labels_full = bpx.to_numpy(net.predict(X))
        labels_part = bpx.to_numpy(net.predict(X[rows]))
        confident = np.abs(full[rows] - 0.5).min(axis=1) > 1e-4  # away from a tie
        np.testing.assert_array_equal(labels_part[confident], labels_full[rows][confident])


@SETTINGS
@given(problem=problems(max_hidden=2), batch=st.integers(1, 10), optimizer=st.sampled_from(["sgd", "momentum", "adam"]))
def test_fitting_twice_from_the_same_seed_gives_identical_parameters(problem, batch, optimizer):
    spec, X, Y = problem
    make = {"sgd": lambda: bpx.SGD(0.1), "momentum": lambda: bpx.SGD(0.1, momentum=0.9, nesterov=True),
            "adam": lambda: bpx.Adam(0.01)}[optimizer]
    runs, outcomes = [], []
    for _ in range(2):
        net = bpx.MLP(**spec, backend="numpy", dtype="float64")
        try:  # a linear net with momentum may blow up: then both runs must blow up alike
            net.fit(X, Y, epochs=3, batch_size=batch, optimizer=make(), verbose=0)
            outcomes.append(None)
        except bpx.TrainingDiverged as exc:
            outcomes.append(str(exc))
        runs.append(net.params)
    assert outcomes[0] == outcomes[1]
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


@SETTINGS
@given(problem=problems(max_hidden=2), dtype=st.sampled_from(["float32", "float64"]))
def test_inputs_are_unchanged_after_every_call(backend, problem, dtype):
    dtype = usable_dtype(backend, dtype)
    spec, X, Y = problem
    X_in, Y_in = backend.asarray(X), backend.asarray(Y)  # backend arrays (views of host memory on torch CPU)
    X_copy, Y_copy = bpx.to_numpy(X_in).copy(), bpx.to_numpy(Y_in).copy()
    net = bpx.MLP(**spec, backend=backend, dtype=dtype)
    params_in = [bpx.to_numpy(p).copy() for p in net.params]
    net.set_params(params_in)
    calls = [lambda: net.forward(X_in), lambda: net.loss(X_in, Y_in), lambda: net.loss_and_grads(X_in, Y_in),
             lambda: net.train_step(X_in, Y_in, bpx.SGD(0.1, momentum=0.5)),
             lambda: net.fit(X_in, Y_in, epochs=2, batch_size=3, optimizer=bpx.Adam(), verbose=0),
             lambda: net.predict(X_in), lambda: bpx.gradcheck(net, X, Y) if backend.has_dtype("float64") else None]
    originals = [a.copy() for a in params_in]
    for call in calls:
        call()
        np.testing.assert_array_equal(bpx.to_numpy(X_in), X_copy)
        np.testing.assert_array_equal(bpx.to_numpy(Y_in), Y_copy)
        np.testing.assert_array_equal(X.astype(X_copy.dtype), X_copy)
        for a, b in zip(params_in, originals):
            np.testing.assert_array_equal(a, b)
