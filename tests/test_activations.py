"""Your own activation: bpx.activation(name, forward, derivative), gradchecked when registered; and the
built-ins registered through the same mechanism (GELU, SiLU, softplus, ELU)."""

import array_api_compat
import numpy as np
import pytest

import bpx
from bpx.nn._activations import ACTIVATIONS
from bpx.tools._gradcheck import check_activation

BUILTIN_USER = ("gelu", "silu", "softplus", "elu")
EXTREME = np.array([[-1e3, -50.0, -1.0, 0.0, 1.0, 50.0, 1e3]])


def square_plus(z):
    """g(z) = (z + √(z² + 4)) / 2 (the 'squareplus' smooth ReLU)."""
    xp = array_api_compat.array_namespace(z)
    return 0.5 * (z + xp.sqrt(z * z + 4.0))


def square_plus_derivative(z, a):
    """g'(z) = a / √(z² + 4)... written from a: g' = a² / (a² + 1) since z = a − 1/a."""
    return a * a / (a * a + 1.0)


@pytest.fixture
def registry():
    """Registered activations are removed again after the test."""
    before = dict(ACTIVATIONS)
    yield
    ACTIVATIONS.clear()
    ACTIVATIONS.update(before)


@pytest.mark.parametrize("name", BUILTIN_USER)
def test_builtin_pairs_pass_the_registration_check_on_this_backend(backend, float64, name):
    assert check_activation(ACTIVATIONS[name], backend=backend) < 1e-8


@pytest.mark.parametrize("name", BUILTIN_USER)
def test_builtin_derivatives_are_finite_at_the_extremes(backend, dtype, to_input, name):
    Z = to_input(EXTREME.astype(dtype))
    g = ACTIVATIONS[name]
    A = g(Z)
    D = bpx.to_numpy(g.backward(Z, A, to_input(np.ones_like(EXTREME, dtype=dtype))))
    assert D.dtype == np.dtype(dtype) and np.all(np.isfinite(D))
    # the limits: g' → 0 on the left for all four, → 1 on the right
    np.testing.assert_allclose(D[0, [0, -1]], [0.0, 1.0], atol=1e-6)


def test_gelu_is_the_tanh_approximation_within_5e4_of_the_erf_form(backend, float64, to_input):
    from math import erf, sqrt

    z = np.linspace(-6, 6, 241)
    exact = np.array([0.5 * v * (1 + erf(v / sqrt(2))) for v in z])
    ours = bpx.to_numpy(ACTIVATIONS["gelu"](to_input(z)))
    assert np.max(np.abs(ours - exact)) < 5e-4


def test_register_train_save_load(backend, dtype, to_input, tmp_path, registry):
    act = bpx.activation("square_plus", square_plus, square_plus_derivative)
    assert isinstance(act, bpx.nn._activations.Activation) and act.name == "square_plus"
    assert ACTIVATIONS["square_plus"] is act
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    net = bpx.MLP([3, 6, 2], activation="square_plus", backend=backend, dtype=dtype, seed=1)
    history = net.fit(to_input(X), to_input(y), epochs=30, optimizer=bpx.SGD(lr=0.3), verbose=0)
    assert history.loss[-1] < history.loss[0]
    if dtype == "float64":
        errors = bpx.gradcheck(net, to_input(X[:7]), to_input(y[:7]))
        assert max(errors.values()) <= 1e-7, errors
    path = bpx.save(net, tmp_path / "sp.npz")
    again = bpx.load(path, backend=backend)
    assert again.activation == "square_plus"
    np.testing.assert_array_equal(bpx.to_numpy(again.forward(to_input(X))), bpx.to_numpy(net.forward(to_input(X))))
    del ACTIVATIONS["square_plus"]  # a fresh session that has not registered it
    with pytest.raises(bpx.ModelFileError, match=r"'square_plus' is not registered.*bpx\.activation\('square_plus'"):
        bpx.load(path, backend=backend)


def test_a_wrong_derivative_is_refused_with_the_worst_error(registry):
    with pytest.raises(ValueError, match=r"activation 'bad'.*worst error 0\.\d+ at z = .*at most 1e-06"):
        bpx.activation("bad", square_plus, lambda z, a: a / (a * a + 1.0))
    assert "bad" not in ACTIVATIONS
    with pytest.raises(ValueError, match="worst error"):  # off by a little still fails
        bpx.activation("bad", square_plus, lambda z, a: 1.0001 * square_plus_derivative(z, a))


def test_registration_refuses_bad_arguments(registry):
    with pytest.raises(TypeError, match="name must be a string"):
        bpx.activation("two words", square_plus, square_plus_derivative)
    with pytest.raises(TypeError, match="derivative must be a function"):
        bpx.activation("sp", square_plus, 3)
    with pytest.raises(ValueError, match="'relu' is a built-in"):
        bpx.activation("relu", square_plus, square_plus_derivative)
    with pytest.raises(ValueError, match="'gelu' is a built-in"):
        bpx.activation("gelu", square_plus, square_plus_derivative)
    with pytest.raises(ValueError, match="must return an array of z's shape"):
        bpx.activation("sp", lambda z: 1.0, square_plus_derivative)
    with pytest.raises(ValueError, match="failed"):
        bpx.activation("sp", lambda z: z.nonexistent(), square_plus_derivative)
    with pytest.raises(ValueError, match="NaN or infinite"):
        bpx.activation("sp", lambda z: array_api_compat.array_namespace(z).log(z), lambda z, a: 1.0 / z)
    assert "sp" not in ACTIVATIONS
    bpx.activation("sp", square_plus, square_plus_derivative)
    with pytest.raises(ValueError, match="already registered; pass replace=True"):
        bpx.activation("sp", square_plus, square_plus_derivative)
    bpx.activation("sp", square_plus, square_plus_derivative, replace=True)


def test_an_unknown_activation_names_the_way_to_register_one(backend):
    with pytest.raises(ValueError, match=r"not an activation.*gelu.*bpx\.activation\(name, forward, derivative\)"):
        bpx.MLP([2, 3, 2], activation="mish", backend=backend)


@pytest.mark.parametrize("name", BUILTIN_USER)
def test_builtin_user_activations_train_the_same_on_every_backend(backend, float64, to_input, name):
    """A few SGD steps with each new activation, against the same steps on NumPy float64."""
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((30, 4)), rng.integers(0, 3, 30)

    def run(spec, convert):
        net = bpx.MLP([4, 8, 3], activation=name, backend=spec, dtype="float64", seed=2)
        # unshuffled: a lazy (dask) backend draws shuffled batches by its own documented scheme
        net.fit(convert(X), convert(y), epochs=5, batch_size=10, optimizer=bpx.SGD(lr=0.2), verbose=0, shuffle=False)
        return [bpx.to_numpy(p) for p in net.params]

    for ours, ref in zip(run(backend, to_input), run("numpy", np.asarray)):
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)
