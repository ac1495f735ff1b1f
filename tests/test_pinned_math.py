"""The math modules' numbers and messages pinned exactly (issue 24, docs/development/mutation.md): every
test here kills mutants that the module tests let through. Values are computed independently (NumPy or
closed forms) and compared in float64; messages by the words a user reads (the argument's name, the
value). Equivalent mutants are listed with their reasons in docs/development/mutation_equivalents_math.md.

The activations' in-place fast path runs on NumPy arrays and the generic path on array-api-strict ones,
whatever the session's backend, so both paths are pinned in every session."""

import math

import numpy as np
import pytest

import bpx
from bpx import schedules
from bpx.nn import ACTIVATIONS, Activation, get_loss, log_softmax, normalized_weights
from bpx.nn._activations import OUTPUT_ONLY, UserActivation, check_activation

Z_POINTS = [-40.0, -3.0, -0.5, 0.0, 0.25, 0.5, 2.0, 40.0]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _gelu(z):
    return 0.5 * z * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z ** 3)))


# g(z) and g'(z), written independently of bpx, for every element-wise built-in
CLOSED_FORMS = {
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
    "identity": (lambda z: z, np.ones_like),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
            lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0)))),
    "softplus": (lambda z: np.logaddexp(0.0, z), _sigmoid),
    "silu": (lambda z: z * _sigmoid(z), lambda z: _sigmoid(z) * (1.0 + z * (1.0 - _sigmoid(z)))),
    "gelu": (_gelu, None),  # its derivative: against central differences below
}


def _paths():
    """(name, to_array, to_numpy): NumPy (the in-place fast path) and array-api-strict (the generic path)."""
    paths = [("numpy-inplace", np.asarray, np.asarray)]
    try:
        import array_api_strict as strict
    except ImportError:  # pragma: no cover - installed wherever the suite runs
        return paths
    return paths + [("strict-generic", lambda a: strict.asarray(np.asarray(a, dtype=np.float64)), bpx.to_numpy)]


@pytest.mark.parametrize("path", _paths(), ids=lambda p: p[0])
@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_activation_values_and_backward_at_chosen_points(name, path):
    _, arr, host = path
    g, dg = CLOSED_FORMS[name]
    act = ACTIVATIONS[name]
    z = np.array([Z_POINTS, [-1.0, -0.1, 0.0, 0.1, 0.75, 1.0, 5.0, -7.0]])
    dA = np.linspace(0.5, 2.0, z.size).reshape(z.shape)
    A = act(arr(z))
    np.testing.assert_allclose(host(A), g(z), rtol=1e-12, atol=1e-300)
    if dg is None:
        h = 1e-6
        expected_grad = (g(z + h) - g(z - h)) / (2 * h)
        tol = dict(rtol=1e-7, atol=1e-9)
    else:
        expected_grad = dg(z)
        tol = dict(rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(host(act.backward(arr(z), A, arr(dA))), dA * expected_grad, **tol)
    owned = arr(dA.copy())
    out = act.backward_owned(arr(z), A, owned)
    np.testing.assert_allclose(host(out), dA * expected_grad, **tol)
    if path[0] == "numpy-inplace" and type(act).backward_owned is not Activation.backward_owned:
        assert out is owned  # the fast path overwrites the caller's temporary instead of allocating


@pytest.mark.parametrize("path", _paths(), ids=lambda p: p[0])
def test_softmax_log_softmax_and_exp_by_hand(path):
    _, arr, host = path
    z = np.array([[1.0, 2.0, 3.0], [-1000.0, 0.0, 1000.0], [0.5, 0.5, -0.25]])
    shifted = z - z.max(axis=1, keepdims=True)
    expected_log = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(host(log_softmax(arr(z))), expected_log, rtol=1e-12, atol=1e-300)
    fresh = type(ACTIVATIONS["softmax"])()  # no forward pass yet: log_of computes afresh
    np.testing.assert_allclose(host(fresh.log_of(arr(z))), expected_log, rtol=1e-12, atol=1e-300)
    exp = OUTPUT_ONLY["exp"]
    dA = np.array([[2.0, -1.0, 0.5]])
    np.testing.assert_allclose(host(exp.backward(arr(dA), arr(np.exp(dA)), arr(dA))), dA * np.exp(dA), rtol=1e-14)


def test_softmax_log_of_reuses_its_forward_pass_on_the_same_z_once(monkeypatch):
    """``log_of`` takes the shift and row sums of the last forward pass when it was on this very Z (on NumPy,
    whose arrays take the in-place path), once; any other Z, or a second call, is computed afresh."""
    from bpx.nn import _activations

    afresh = []
    monkeypatch.setattr(_activations, "log_softmax", lambda Z: afresh.append(Z) or log_softmax(Z))
    z1, z2 = np.array([[1.0, 2.0, 4.0], [0.5, -0.5, 0.0]]), np.array([[3.0, -1.0, 0.25], [2.0, 2.0, -2.0]])

    def expected(z):
        shifted = z - z.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    softmax = type(ACTIVATIONS["softmax"])()
    np.testing.assert_allclose(softmax(z1), np.exp(expected(z1)), rtol=1e-15, atol=0.0)
    np.testing.assert_allclose(softmax.log_of(z1), expected(z1), rtol=1e-15, atol=0.0)
    assert afresh == []  # the forward pass's intermediates
    np.testing.assert_allclose(softmax.log_of(z1), expected(z1), rtol=1e-15, atol=0.0)
    assert len(afresh) == 1 and afresh[0] is z1  # used once, then dropped
    softmax(z1)
    np.testing.assert_allclose(softmax.log_of(z2), expected(z2), rtol=1e-15, atol=0.0)  # not the last forward's
    assert len(afresh) == 2 and afresh[1] is z2
    np.testing.assert_allclose(softmax.log_of(z1.copy()), expected(z1), rtol=1e-15, atol=0.0)  # equal, not the same
    assert len(afresh) == 3


@pytest.mark.parametrize("shape, kept", [((1, 1 << 16), True), ((256, 256), True), ((1, (1 << 16) + 1), False),
                                         ((2, 1 << 16), False), (((1 << 16) + 1, 1), False)])
def test_softmax_keeps_its_forward_pass_only_for_outputs_of_at_most_softmax_memo_values(monkeypatch, shape, kept):
    """The memo of the forward pass is bounded by the output's size, m·n <= SOFTMAX_MEMO (2¹⁶ values):
    at the bound it is kept (``log_of`` computes nothing afresh), one value beyond it is not."""
    from bpx.nn import _activations

    assert _activations.SOFTMAX_MEMO == 1 << 16
    afresh = []
    monkeypatch.setattr(_activations, "log_softmax", lambda Z: afresh.append(Z) or log_softmax(Z))
    z = np.random.default_rng(0).standard_normal(shape)
    softmax = type(ACTIVATIONS["softmax"])()
    softmax(z)
    shifted = z - z.max(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax.log_of(z), shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)),
                               rtol=1e-13, atol=1e-13)
    assert len(afresh) == (0 if kept else 1)


def _forward(z):
    """a documented forward: z³/3"""
    return z * z * z / 3.0


def test_a_registered_activation_keeps_its_functions_docs_and_derivative_argument():
    try:
        act = bpx.activation("pinned_cube", _forward, lambda z, a: 3.0 * a / z)  # g' = z² from a and z
        z = np.array([[0.5, -2.0, 3.0]])
        a = act(z)
        np.testing.assert_allclose(act.backward(z, a, np.ones_like(z)), z * z, rtol=1e-14)
        assert act.__doc__ == "a documented forward: z³/3"
        for _, arr, host in _paths():  # both paths of backward_owned hand z and a to the derivative
            np.testing.assert_allclose(host(act.backward_owned(arr(z), arr(a), arr(np.ones_like(z)))), z * z, rtol=1e-14)
        bare = bpx.activation("pinned_bare", lambda z: 2.0 * z, lambda z, a: 2.0 + 0.0 * a)
        assert bare.__doc__ == "the user activation 'pinned_bare'"
        assert UserActivation("n", _forward, None, doc="given").__doc__ == "given"
    finally:
        ACTIVATIONS.pop("pinned_cube", None)
        ACTIVATIONS.pop("pinned_bare", None)


@pytest.mark.parametrize("name", ["gelu", "silu", "softplus", "elu"])
def test_the_registered_builtins_are_user_activations_that_cannot_be_replaced(name):
    act = ACTIVATIONS[name]
    assert act.name == name and act.forward.__doc__ and act.__doc__ == act.forward.__doc__
    z = np.array([[-1.5, 0.3, 2.0]])
    np.testing.assert_allclose(act.backward(z, act(z), np.ones_like(z)), act.derivative(z, act(z)), rtol=0)
    with pytest.raises(ValueError, match=f"name='{name}' is a built-in activation"):
        bpx.activation(name, _forward, lambda z, a: z * z, replace=True)


@pytest.mark.parametrize("forward,derivative,match", [
    (3, lambda z, a: z, "forward must be a function, got int"),
    (_forward, "d", "derivative must be a function, got str"),
])
def test_activation_names_the_argument_that_is_not_a_function(forward, derivative, match):
    with pytest.raises(TypeError, match=match):
        bpx.activation("pinned_bad", forward, derivative)


class _Recorder:
    """An activation whose forward records the arrays it is called on."""

    name = "recorder"

    def __init__(self, slope=1.0, error=0.0):
        self.calls, self.slope, self.error = [], slope, error

    def forward(self, z):
        self.calls.append(z)
        return self.slope * z

    def derivative(self, z, a):
        return self.slope + self.error + 0.0 * z


def test_check_activation_evaluates_on_its_documented_float64_grid():
    rec = _Recorder()
    check_activation(rec)
    grid = np.array([-8.0 + 0.05 * k + 0.00731 for k in range(321)] + [-20.0, 20.0])
    h = 1e-6 * np.maximum(1.0, np.abs(grid))
    z, z_plus, z_minus = (bpx.to_numpy(c) for c in rec.calls)
    assert z.dtype == np.float64 and z.shape == (323,)
    np.testing.assert_array_equal(z, grid)
    np.testing.assert_array_equal(z_plus, grid + h)
    np.testing.assert_array_equal(z_minus, grid - h)
    strict = pytest.importorskip("array_api_strict")
    rec = _Recorder()
    check_activation(rec, backend="array_api_strict")
    assert type(rec.calls[0]) is type(strict.asarray([0.0]))


@pytest.mark.parametrize("slope,error,worst", [(0.5, 0.1, 0.1), (3.0, 0.3, 0.1)])
def test_check_activation_returns_the_relative_error(slope, error, worst):
    # error / max(1, |g'|): 0.1 / 1 for slope 0.5, 0.3 / 3 for slope 3
    got = check_activation(_Recorder(slope, error), tol=1.0)
    assert got == pytest.approx(worst, rel=1e-6)
    check_activation(_Recorder(slope, error), tol=got)  # the worst error itself is accepted
    with pytest.raises(ValueError, match=r"worst error 0\.1 at z = .*at most 0\.05 is accepted"):
        check_activation(_Recorder(slope, error), tol=0.05)


def test_check_activation_names_the_worst_point_and_the_failing_function():
    class Bump(_Recorder):
        def derivative(self, z, a):  # wrong by 0.5·e^(-z²): worst at the grid point nearest 0
            xp = bpx.get_backend("numpy").xp
            return 1.0 + 0.5 * xp.exp(-z * z)

    with pytest.raises(ValueError, match=r"'recorder'.*worst error 0\.5 at z = 0\.00731 "):
        check_activation(Bump())

    class Boom(_Recorder):
        def forward(self, z):
            raise RuntimeError("boom")

    with pytest.raises(ValueError, match=r"shape \(323,\) \(RuntimeError: boom\)"):
        check_activation(Boom())

    class Column(_Recorder):
        def forward(self, z):
            return z[:, None]

    with pytest.raises(ValueError, match=r"forward\(z\) must return an array of z's shape \(323,\), got \(323, 1\)"):
        check_activation(Column())

    class Short(_Recorder):
        def derivative(self, z, a):
            return z[:3]

    with pytest.raises(ValueError, match=r"derivative\(z, a\) must return an array of z's shape \(323,\), got \(3,\)"):
        check_activation(Short())

    class Scalar(_Recorder):
        def derivative(self, z, a):
            return 1.0

    with pytest.raises(ValueError, match=r"derivative\(z, a\) must return an array .*, got float$"):
        check_activation(Scalar())


# -- losses ------------------------------------------------------------------------------------------------
def test_cross_entropies_clip_a_at_the_dtypes_epsilon():
    eps = np.finfo(np.float64).eps
    A, Y = np.array([[0.0], [1.0]]), np.array([[1.0], [0.0]])  # each row as wrong as can be
    bce = get_loss("binary_cross_entropy")
    assert float(bce.cost(None, A, Y, fused=False)) == pytest.approx(-math.log(eps), rel=1e-12)
    Ac = np.array([[eps], [1.0 - eps]])
    np.testing.assert_allclose(bce.gradient(A, Y), (Ac - Y) / (Ac * (1.0 - Ac)) / 2, rtol=1e-12)
    ce = get_loss("cross_entropy")
    A2, Y2 = np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]])
    assert float(ce.cost(None, A2, Y2, fused=False)) == pytest.approx(-math.log(eps), rel=1e-12)
    np.testing.assert_allclose(ce.gradient(A2, Y2), [[-1.0 / eps, -0.0]], rtol=1e-12)


def test_poisson_cost_and_gradient_by_hand():
    poisson = get_loss("poisson")
    tiny = np.finfo(np.float64).smallest_normal
    Y = np.array([[0.0, 0.5], [2.0, 1.0], [0.25, 0.0]])
    A = np.array([[0.5, 0.0], [1.5, 3.0], [0.75, 2.0]])
    logA = np.log(np.maximum(A, tiny))
    ylogy = np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1.0)), 0.0)
    per_elem = ylogy - Y * logA - Y + A
    garbage_z = np.full_like(A, 7.0)  # unfused: the cost comes from A alone
    assert float(poisson.cost(garbage_z, A, Y, fused=False)) == pytest.approx(per_elem.sum() / 3, rel=1e-12)
    w = normalized_weights(np.array([1.0, 2.0, 5.0]))
    np.testing.assert_allclose(w, [[0.125], [0.25], [0.625]], rtol=1e-15)
    assert float(poisson.cost(garbage_z, A, Y, fused=False, weights=w)) == pytest.approx(
        (per_elem * w).sum(), rel=1e-12)
    grad = 1.0 - Y / np.maximum(A, tiny)
    np.testing.assert_allclose(poisson.gradient(A, Y), grad / 3, rtol=1e-12)
    np.testing.assert_allclose(poisson.gradient(A, Y, weights=w), grad * w, rtol=1e-12)
    # fused: log a is z itself, honest where e^z underflows to 0 (log of the smallest normal is −708.4)
    Z = np.array([[-800.0]])
    assert float(poisson.cost(Z, np.exp(Z), np.array([[1.0]]), fused=True)) == pytest.approx(799.0, rel=1e-12)


# -- first-order optimizers -------------------------------------------------------------------------------
def _rmsprop_reference(w, grads, lr, alpha, eps, momentum, centered):
    s, ga, b = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for g in grads:
        s = alpha * s + (1 - alpha) * g * g
        if centered:
            ga = alpha * ga + (1 - alpha) * g
            d = np.sqrt(s - ga * ga) + eps
        else:
            d = np.sqrt(s) + eps
        if momentum:
            b = momentum * b + g / d
            w = w - lr * b
        else:
            w = w - lr * g / d
    return w


GRADS = [np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([[-0.25, -0.5], [1.0, 3.0]]),
         np.array([[1.5, 0.75], [-2.0, 0.5]])]


@pytest.mark.parametrize("inplace", [True, False])
@pytest.mark.parametrize("momentum", [0.0, 0.6])
@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop_three_steps_by_hand(centered, momentum, inplace):
    w0 = np.array([[1.0, -2.0], [0.5, 3.0]])
    opt = bpx.RMSprop(0.1, alpha=0.8, eps=0.1, momentum=momentum, centered=centered, inplace=inplace)
    params = [w0.copy()]
    for g in GRADS:
        params = opt.step(params, [g])
    np.testing.assert_allclose(params[0], _rmsprop_reference(w0, GRADS, 0.1, 0.8, 0.1, momentum, centered),
                               rtol=1e-12)


def test_adagrad_with_a_schedule_and_lr_decay_by_hand():
    opt = bpx.Adagrad(lr=schedules.Step(0.4, step_size=2, gamma=0.5), lr_decay=0.5, initial_accumulator_value=0.1,
                      eps=0.01)
    assert opt.coefficients(3) == (0.2 / 2.0,)
    w, s, params = np.array([[1.0, -2.0], [0.5, 3.0]]), np.full((2, 2), 0.1), [np.array([[1.0, -2.0], [0.5, 3.0]])]
    for t, g in enumerate(GRADS, start=1):
        params = opt.step(params, [g])
        s = s + g * g
        w = w - (0.4 * 0.5 ** ((t - 1) // 2)) / (1 + (t - 1) * 0.5) * g / (np.sqrt(s) + 0.01)
    np.testing.assert_allclose(params[0], w, rtol=1e-12)


@pytest.mark.parametrize("make,lr,extra", [
    (bpx.SGD, 0.01, dict(momentum=0.0, nesterov=False)),
    (bpx.Adam, 1e-3, dict(beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)),
    (bpx.AdamW, 1e-3, dict(weight_decay=1e-2)),
    (bpx.RMSprop, 1e-2, dict(alpha=0.99, eps=1e-8, momentum=0.0, centered=False)),
    (bpx.Adagrad, 1e-2, dict(lr_decay=0.0, eps=1e-10, initial_accumulator_value=0.0)),
])
def test_optimizer_defaults_and_inplace_argument(make, lr, extra):
    opt = make()
    assert opt.lr == lr and {k: getattr(opt, k) for k in extra} == extra
    assert make(inplace=False).inplace is False and make(inplace=True).inplace is True


@pytest.mark.parametrize("make,match", [
    (lambda: bpx.SGD(momentum=-0.1), r"^momentum must"), (lambda: bpx.RMSprop(momentum=-0.1), r"^momentum must"),
    (lambda: bpx.Adam(beta1=-0.1), r"^beta1 must"), (lambda: bpx.Adam(beta2=-0.1), r"^beta2 must"),
    (lambda: bpx.RMSprop(alpha=-0.1), r"^alpha must"),
    (lambda: bpx.Adam(eps=0.0), r"^eps must"), (lambda: bpx.Adam(eps=-1.0), r"^eps must"),
    (lambda: bpx.RMSprop(eps=0.0), r"^eps must"), (lambda: bpx.RMSprop(eps=-1.0), r"^eps must"),
    (lambda: bpx.Adagrad(eps=0.0), r"^eps must"), (lambda: bpx.Adagrad(eps=-1.0), r"^eps must"),
    (lambda: bpx.Adagrad(lr_decay=-1.0), r"^lr_decay must"),
    (lambda: bpx.Adagrad(initial_accumulator_value=-1.0), r"^initial_accumulator_value must"),
    (lambda: bpx.SGD(nesterov=1), r"^nesterov must be True or False"),
    (lambda: bpx.RMSprop(centered=1), r"^centered must be True or False, got 1"),
    (lambda: bpx.SGD(nesterov=True), r"^nesterov=True needs momentum > 0, got momentum=0\.0$"),
])
def test_optimizer_arguments_are_refused_by_name(make, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make()


def test_optimizer_state_dict_repr_and_math_key_exactly():
    opt = bpx.SGD(0.1, momentum=0.9)
    fresh = opt.state_dict()
    assert fresh == {"type": "SGD", "hyper": {"weight_decay": 0.0, "inplace": None, "clip_norm": None,
                                              "clip_value": None, "lr": 0.1, "momentum": 0.9, "nesterov": False},
                     "t": 0, "shapes": None, "state": None}
    other = bpx.SGD(0.5)
    other.load_state_dict(fresh, np.asarray)  # an unprepared state loads as one
    assert other.state is None and not other.prepared and other.momentum == 0.9
    params = [np.ones((2, 2))]
    new = opt.step(params, [np.ones((2, 2))])
    assert new[0] is params[0]  # numpy: the in-place path updates the caller's arrays
    stepped = opt.state_dict()
    assert stepped["t"] == 1 and stepped["hyper"] == fresh["hyper"] and stepped["shapes"] == [[2, 2]]
    assert repr(opt) == "SGD(weight_decay=0.0, inplace=None, lr=0.1, momentum=0.9, nesterov=False)"
    assert opt.math_key() == ("SGD", ("clip_norm", "None"), ("clip_value", "None"), ("inplace", "None"),
                              ("momentum", "0.9"), ("nesterov", "False"), ("weight_decay", "0.0"))
    assert opt.math_key() == bpx.SGD(0.7, momentum=0.9).math_key()
    assert list(bpx.SGD(0.1).init(params)) == []
    with pytest.raises(ValueError, match=r"^the optimizer state is a SGD's, not a Adam's$"):
        bpx.Adam().load_state_dict(opt.state_dict(), np.asarray)


LR_TYPE = ("lr must be a number > 0 or a schedule (a callable lr(t) of the step count, such as "
           "bpx.schedules.Cosine(...)), got {} ({})")


@pytest.mark.parametrize("lr,error,message", [
    ("0.1", TypeError, LR_TYPE.format("'0.1'", "str")),
    (True, TypeError, LR_TYPE.format("True", "bool")),
    (None, TypeError, LR_TYPE.format("None", "NoneType")),
    (float, TypeError, LR_TYPE.format("<class 'float'>", "type")),  # a class is callable, not a schedule
    (0.0, ValueError, "lr must be a finite number in (0.0, inf], got 0.0"),
    (-0.5, ValueError, "lr must be a finite number in (0.0, inf], got -0.5"),
])
def test_learning_rate_errors_exactly(lr, error, message):
    with pytest.raises(error) as info:
        bpx.SGD(lr=lr)
    assert str(info.value) == message


class _Returns:
    """A schedule that returns ``value`` at every step (a fixed repr, for the message)."""

    def __init__(self, value):
        self.value = value

    def __call__(self, t):
        return self.value

    def __repr__(self):
        return f"Returns({self.value!r})"


@pytest.mark.parametrize("value", [True, False, "0.1", None, math.nan, math.inf, -0.25])
def test_a_schedule_that_returns_no_rate_is_refused_at_its_step(value):
    opt = bpx.SGD(lr=_Returns(value))
    with pytest.raises(ValueError) as info:
        opt.rate(3)
    assert str(info.value) == (f"the learning-rate schedule Returns({value!r}) returned {value!r} at step 3; "
                               "it must return a finite number >= 0")
    assert bpx.SGD(lr=_Returns(0)).rate(3) == 0.0 and type(bpx.SGD(lr=_Returns(2)).rate(1)) is float


def test_update_is_pure_unless_asked_and_clips_by_each_argument_alone():
    w, b = np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([0.25, -0.5])
    g, gb = np.array([[3.0, 0.0], [0.0, -4.0]]), np.array([0.0, 0.0])

    def call(opt, inplace=None):  # update without the inplace argument: the pure function by default
        params, grads = [w.copy(), b.copy()], [g.copy(), gb.copy()]
        state = opt.init(params)
        before = {k: [a.copy() for a in arrays] for k, arrays in state.items()}
        args = (params, grads, state, opt.coefficients(1)) + (() if inplace is None else (inplace,))
        new, new_state = opt.update(*args)
        untouched = all(np.array_equal(p, q) for p, q in zip(params, [w, b])) and all(
            np.array_equal(a, c) for k in state for a, c in zip(state[k], before[k]))
        return [np.asarray(p) for p in new], new_state, untouched, params
    # plain SGD: p − lr g, new arrays, the caller's left as they were
    new, _, untouched, _ = call(bpx.SGD(0.5))
    assert untouched and np.array_equal(new[0], w - 0.5 * g) and np.array_equal(new[1], b)
    new, _, untouched, params = call(bpx.SGD(0.5), inplace=True)  # asked: the caller's arrays are updated
    assert not untouched and np.array_equal(params[0], w - 0.5 * g)
    new, state, untouched, _ = call(bpx.Adam(0.1))  # Adam's moments too are new arrays
    assert untouched and np.array_equal(state["m"][0], (1.0 - 0.9) * g)
    # clip_norm alone: ‖g‖ = 5, factor 1/(5 + 1e-6)
    new, _, _, _ = call(bpx.SGD(1.0, clip_norm=1.0))
    np.testing.assert_allclose(new[0], w - g * (1.0 / (5.0 + 1e-6)), rtol=1e-15, atol=0.0)
    # clip_value alone: each gradient component into [−0.5, 0.5]
    new, _, _, _ = call(bpx.SGD(1.0, clip_value=0.5))
    assert np.array_equal(new[0], w - np.array([[0.5, 0.0], [0.0, -0.5]]))
    # both: by global norm, then by value
    new, _, _, _ = call(bpx.SGD(1.0, clip_norm=1.0, clip_value=0.7))
    np.testing.assert_allclose(new[0], w - np.clip(g * (1.0 / (5.0 + 1e-6)), -0.7, 0.7), rtol=1e-15, atol=0.0)
    new, _, _, _ = call(bpx.SGD(1.0))  # neither: the plain gradient
    assert np.array_equal(new[0], w - g)


def test_inplace_false_is_kept_on_arrays_that_could_be_updated_in_place():
    params, grads = [np.array([1.0, -2.0])], [np.array([0.5, 0.25])]
    for inplace, expected in ((False, False), (True, True), (None, True)):
        assert bpx.SGD(0.5, inplace=inplace).use_inplace(params) is expected
    opt = bpx.SGD(0.5, momentum=0.5, inplace=False)
    new = opt.step(params, grads)
    assert new[0] is not params[0] and np.array_equal(params[0], [1.0, -2.0])
    assert np.array_equal(new[0], [1.0 - 0.25, -2.0 - 0.125])
    strict = pytest.importorskip("array_api_strict")
    generic = [strict.asarray([1.0, -2.0])]
    assert bpx.SGD(0.5, inplace=True).use_inplace(generic) is True
    assert bpx.SGD(0.5).use_inplace(generic) is False and bpx.SGD(0.5, inplace=False).use_inplace(generic) is False


def test_another_parameter_list_is_refused_naming_the_optimizer_and_both_shapes():
    for make in (bpx.SGD, bpx.Adam, bpx.RMSprop):
        opt = make()
        opt.step([np.ones((2, 3)), np.ones(3)], [np.ones((2, 3)), np.ones(3)])
        with pytest.raises(ValueError) as info:
            opt.step([np.ones((3, 3)), np.ones(3)], [np.ones((3, 3)), np.ones(3)])
        assert str(info.value) == (f"this {make.__name__} was used with parameters of shapes [(2, 3), (3,)], now it "
                                   "gets [(3, 3), (3,)]; use a new optimizer (or call reset()) for another network")
        opt.reset()
        assert opt.state is None and opt.state_dict()["state"] is None and opt.state_dict()["shapes"] is None


def test_a_state_set_before_prepare_is_neither_read_nor_saved():
    opt = bpx.SGD(0.1, momentum=0.5)
    opt.state = {"v": [np.array([1.0, 2.0])]}  # what an engine does after a step, here before any
    assert opt.state is None and not opt.prepared
    assert opt.state_dict()["state"] is None and opt.state_dict()["shapes"] is None
    new = opt.step([np.array([1.0, 1.0])], [np.array([2.0, -2.0])])  # prepare makes a fresh state
    assert np.array_equal(new[0], [1.0 - 0.2, 1.0 + 0.2]) and np.array_equal(opt.state["v"][0], [-0.2, 0.2])


# -- schedules ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda g: schedules.Step(0.2, step_size=1, gamma=g), lambda g: schedules.MultiStep(0.2, [1], gamma=g),
    lambda g: schedules.Exponential(0.2, gamma=g),
], ids=["Step", "MultiStep", "Exponential"])
def test_schedule_gamma_is_in_0_1(make):
    for bad in (0.0, -0.5, 1.5, 1.0 + 1e-12, None):
        with pytest.raises((TypeError, ValueError), match=r"^gamma must be"):
            make(bad)
    assert [make(1.0)(t) for t in (1, 2, 5)] == [0.2, 0.2, 0.2]
    assert [make(0.5)(t) for t in (1, 2)] == [0.2, 0.1]


@pytest.mark.parametrize("make,match", [
    (lambda: schedules.Constant(0.0), r"^lr must be a finite number in \(0\.0, inf\], got 0\.0"),
    (lambda: schedules.Constant(0.1)(0), r"^t \(the 1-based step count\) must be an integer >= 1, got 0"),
    (lambda: schedules.Step(0.1, 0), r"^step_size must"),
    (lambda: schedules.MultiStep(0.1, [1, 2.5]), r"^milestones\[i\] must"),
    (lambda: schedules.MultiStep(0.1, [3, 3]), r"strictly increasing list, got \[3, 3\]"),
    (lambda: schedules.MultiStep(0.1, []), r"non-empty"),
    (lambda: schedules.InverseScaling(0.1, power_t=-1.0), r"^power_t must"),
    (lambda: schedules.Cosine(0.1, 0), r"^total_steps must"),
    (lambda: schedules.Cosine(0.1, 10, warmup=-1), r"^warmup must"),
    (lambda: schedules.Cosine(0.1, 10, min_lr=-0.01), r"^min_lr must"),
    (lambda: schedules.OneCycle(0.0, 10), r"^max_lr must"),
    (lambda: schedules.OneCycle(0.1, 1), r"^total_steps must be an integer >= 2"),
    *[(lambda p=p: schedules.OneCycle(0.1, 10, pct_start=p), r"^pct_start must be a finite number in \(0\.0, 1\.0\)")
      for p in (0.0, -0.1, 1.0, 1.5)],
    *[(lambda d=d: schedules.OneCycle(0.1, 10, div_factor=d), r"^div_factor must") for d in (0.0, -1.0)],
    *[(lambda d=d: schedules.OneCycle(0.1, 10, final_div_factor=d), r"^final_div_factor must") for d in (0.0, -1.0)],
    # the rise must end after step 0: pct_start · total_steps − 1 > 0
    (lambda: schedules.OneCycle(0.1, 10, pct_start=0.1),
     r"^pct_start=0\.1 leaves an empty phase in a cycle of total_steps=10 steps"),
    (lambda: schedules.OneCycle(0.1, 10, pct_start=0.05), r"^pct_start=0\.05 leaves an empty phase"),
])
def test_schedule_arguments_are_refused_by_name(make, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make()


def test_schedule_defaults_and_boundary_values():
    assert schedules.MultiStep(0.5, [2, 4])(5) == pytest.approx(0.005, rel=1e-15)  # default gamma 0.1
    assert [schedules.MultiStep(0.5, [2, 4], gamma=0.5)(t) for t in (1, 2, 3, 4, 5, 9)] == [
        0.5, 0.5, 0.25, 0.25, 0.125, 0.125]
    assert schedules.InverseScaling(1.0)(4) == 0.5  # default power_t 0.5
    cosine = schedules.Cosine(0.3, total_steps=20, warmup=10, min_lr=0.03)
    assert cosine(10) == 0.3  # the warmup's last step is exactly lr
    assert cosine(20) == cosine(21) == 0.03
    assert schedules.Cosine(0.3, total_steps=20, min_lr=0.3)(5) == 0.3  # min_lr may equal lr


def test_onecycle_defaults_boundaries_and_the_rate_after_the_cycle():
    s = schedules.OneCycle(1.0, total_steps=100)  # div_factor 25, final_div_factor 1e4, cosine
    assert s(1) == pytest.approx(0.04, rel=1e-15)
    assert s(100) == s(130) == pytest.approx(0.04 / 1e4, rel=1e-12)
    assert s(30) == pytest.approx(1.0, rel=1e-15)  # step 29 = 0.3 · 100 − 1 is the peak
    peak, start = 29.0, 0.04
    assert s(16) == pytest.approx(1.0 + (start - 1.0) / 2 * (math.cos(math.pi * 15 / peak) + 1), rel=1e-13)
    linear = schedules.OneCycle(2.0, total_steps=10, pct_start=0.5, div_factor=0.5, final_div_factor=0.25,
                                anneal="linear")  # factors below 1 are allowed: the rate starts above max_lr
    initial, final = 4.0, 16.0
    expected = [initial + (2.0 - initial) * s_ / 4 for s_ in range(5)] + \
               [2.0 + (final - 2.0) * (s_ - 4) / 5 for s_ in range(5, 10)]
    np.testing.assert_allclose([linear(t) for t in range(1, 11)], expected, rtol=1e-14)
    assert linear(11) == linear(50) == pytest.approx(final, rel=1e-15)
    two = schedules.OneCycle(0.1, total_steps=2, pct_start=0.75)  # the shortest cycle: rise ends at 0.5
    assert two(1) == pytest.approx(0.004, rel=1e-14) and two(2) == pytest.approx(0.004 / 1e4, rel=1e-12)
    assert schedules.OneCycle(0.1, 10, pct_start=0.15)(1) == pytest.approx(0.004, rel=1e-14)  # rise ends at 0.5
    assert schedules.OneCycle(0.1, 10, pct_start=0.9)(10) == pytest.approx(0.004 / 1e4, rel=1e-12)
    assert schedules.OneCycle(0.1, 10, anneal="cos").anneal == "cos"


# -- L-BFGS: the strong Wolfe line search and its cubic step, against torch's (which bpx's follows) -------
LINE_FUNCTIONS = {  # f and f' in one variable, through the math of either library
    "quartic": (lambda x, m: (x - 3.0) ** 4 + 0.5 * x * x, lambda x, m: 4 * (x - 3.0) ** 3 + x),
    "sine": (lambda x, m: m.sin(x) + 0.1 * x * x, lambda x, m: m.cos(x) + 0.2 * x),
    "exp": (lambda x, m: m.exp(x) - 5 * x, lambda x, m: m.exp(x) - 5),
}


@pytest.mark.parametrize("t0", [1.0, 0.01, 0.1, 10.0])
@pytest.mark.parametrize("name", sorted(LINE_FUNCTIONS))
@pytest.mark.parametrize("max_evals", [25, 3])
def test_strong_wolfe_tries_the_same_steps_as_torch(name, t0, max_evals):
    torch = pytest.importorskip("torch")
    from torch.optim.lbfgs import _strong_wolfe as torch_strong_wolfe

    from bpx.optimizers._lbfgs import _strong_wolfe

    f, g = LINE_FUNCTIONS[name]
    x0 = 0.0
    d = -g(x0, math)
    ours = []

    def objective(theta, direction):
        x = float(theta[0])
        ours.append(x)
        return f(x, math), f(x, math), g(x, math) * float(direction[0]), abs(g(x, math)), np.array([g(x, math)]), x

    t, new = _strong_wolfe(objective, np.array([x0]), t0, np.array([d]), f(x0, math), g(x0, math) * d, max_evals)
    theirs = []

    def torch_objective(x, step, direction):
        point = x + step * direction
        theirs.append(float(point[0]))
        return float(f(point, torch)[0]), g(point, torch)

    X, D = torch.tensor([x0], dtype=torch.float64), torch.tensor([d], dtype=torch.float64)
    _, _, t_torch, evals = torch_strong_wolfe(torch_objective, X, t0, D, f(x0, math),
                                              torch.tensor([g(x0, math)], dtype=torch.float64), g(x0, math) * d,
                                              max_ls=max_evals)
    # bpx never evaluates more than max_evals times (torch's max_ls may take one more): the same trial steps
    assert len(ours) == min(evals, max_evals) and ours == pytest.approx(theirs[:len(ours)], rel=1e-13)
    if evals <= max_evals:
        assert t == pytest.approx(float(t_torch), rel=1e-13) and new[-1] == pytest.approx(x0 + t * d, rel=1e-13)
    else:  # out of evaluations with no trial point below f(x0): no step
        assert all(f(x, math) >= f(x0, math) for x in ours) and (t, new) == (0.0, None)


@pytest.mark.parametrize("x1,f1,g1,x2,f2,g2,lo,hi", [
    (0.0, 1.0, -2.0, 1.0, 0.5, 1.0, 0.0, 1.0), (1.0, 0.5, 1.0, 0.0, 1.0, -2.0, 0.0, 1.0),
    (0.0, 1.0, -2.0, 2.0, -3.0, -1.0, 2.0, 20.0), (0.5, 0.0, -1.0, 0.0, 1.0, -3.0, -1.0, 2.0),
    (0.0, 1.0, -1.0, 1.0, 2.0, -1.0, 0.0, 1.0), (0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0),
    (0.0, 1.0, -5.0, 3.0, 0.0, 0.5, 0.5, 2.5), (2.0, 1.0, 0.3, -1.0, 4.0, -2.5, -1.0, 2.0),
    (0.0, 0.0, 1.0, 1.0, 2.0 / 3.0, 1.0, 0.0, 1.0),  # no real minimiser (d2² < 0): the midpoint
    (0.0, 0.0, 1.0, 3.0, 3.0, 4.0, 0.0, 3.0), (1.0, 0.0, 1.0, 4.0, 3.0, 4.0, 0.0, 5.0),  # d2² = 0 exactly
])
def test_cubic_step_is_torchs_cubic_interpolation(x1, f1, g1, x2, f2, g2, lo, hi):
    pytest.importorskip("torch")
    from torch.optim.lbfgs import _cubic_interpolate

    from bpx.optimizers._lbfgs import _cubic_min

    torch = pytest.importorskip("torch")
    expected = _cubic_interpolate(*(torch.tensor(v, dtype=torch.float64) for v in (x1, f1, g1, x2, f2, g2)),
                                  bounds=(lo, hi))
    assert _cubic_min(x1, f1, g1, x2, f2, g2, lo, hi) == pytest.approx(float(expected), rel=1e-14, abs=1e-300)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"weight_decay": -0.1}, ValueError, "weight_decay must be a finite number in [0.0, inf], got -0.1"),
    ({"inplace": "yes"}, TypeError, "inplace must be True or False, got 'yes'"),
    ({"clip_norm": 0.0}, ValueError, "clip_norm must be a finite number in (0.0, inf], got 0.0"),
    ({"clip_value": -1.0}, ValueError, "clip_value must be a finite number in (0.0, inf], got -1.0"),
])
@pytest.mark.parametrize("make", [lambda **kw: bpx.SGD(0.1, **kw), lambda **kw: bpx.Adam(**kw),
                                  lambda **kw: bpx.AdamW(**kw), lambda **kw: bpx.RMSprop(**kw),
                                  lambda **kw: bpx.Adagrad(**kw)], ids=["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_every_optimizer_names_its_shared_argument_in_the_error(make, kwargs, error, message):
    """The arguments every first-order optimizer shares (Optimizer.__init__) are refused by their name."""
    with pytest.raises(error) as info:
        make(**kwargs)
    assert str(info.value) == message


def test_clip_arguments_are_kept_as_given():
    opt = bpx.SGD(0.1, clip_norm=2.5, clip_value=0.75)
    assert (opt.clip_norm, opt.clip_value) == (2.5, 0.75)
    assert (bpx.Adam().clip_norm, bpx.Adam().clip_value) == (None, None)


def test_get_activation_names_its_argument_and_keeps_output_only_ones_to_the_output():
    """The table and the messages of ``get_activation``: ``argument`` defaults to "activation"; an
    output-only activation ("exp") is found only for ``argument="output"``."""
    from bpx.nn import get_activation
    from bpx.nn._activations import OUTPUT_ONLY

    with pytest.raises(TypeError) as info:
        get_activation(5)
    assert str(info.value) == "activation must be a string naming an activation, got int"
    with pytest.raises(TypeError) as info:
        get_activation(None, "output")
    assert str(info.value) == "output must be a string naming an activation, got NoneType"
    names = ", ".join(ACTIVATIONS)
    for name in ("exp", "nope"):
        with pytest.raises(ValueError) as info:
            get_activation(name)
        assert str(info.value) == (f"activation={name!r} is not an activation; expected one of {names} "
                                   f"(or register your own with bpx.activation(name, forward, derivative))")
    assert get_activation("exp", "output") is OUTPUT_ONLY["exp"]
    assert get_activation("tanh") is ACTIVATIONS["tanh"]


def test_a_dense_layer_made_alone_has_a_bias_and_computes_in_its_inputs_dtype():
    """``Dense``'s and ``param_layout``'s defaults: a bias, and no mixed precision (the product in A's dtype)."""
    from bpx.nn import Dense, param_layout

    assert param_layout([2, 3, 1]) == [("W1", (2, 3)), ("b1", (3,)), ("W2", (3, 1)), ("b2", (1,))]
    layer = Dense(2, 3, "identity")
    assert layer.bias and layer.compute_dtype is None and layer.slots == ("W", "b")
    A = np.array([[1.0, 2.0]])
    W = np.array([[0.5, -1.0, 2.0], [0.25, 0.0, -0.5]])
    Z, out = layer.forward(A, W, np.array([1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(Z, [[2.0, 0.0, 2.0]])
    np.testing.assert_array_equal(out, Z)


def test_get_loss_errors_name_the_type_and_list_the_losses():
    with pytest.raises(TypeError) as info:
        get_loss(3.5)
    assert str(info.value) == "loss must be a string naming a loss, got float"
    with pytest.raises(ValueError) as info:
        get_loss("hinge")
    assert str(info.value) == f"loss='hinge' is not a loss; expected one of {', '.join(bpx.LOSSES)}"
    assert get_loss("mse") is bpx.LOSSES["mse"]
