"""L-BFGS in numbers (float64): the two-loop direction against NumPy's, the memory of ``history_size``
pairs and its curvature test, the stop tests (tol, ftol, max_fun, no descent, no lower cost) at their
boundaries, the first step of a fresh history, the state round-trip and the errors. The optimizer is
driven directly (``begin``/``iterate``, as the training loop drives it) by objectives written here, so
every cost, gradient and trial point is known exactly (docs/development/mutation_equivalents_math.md).
"""

import math
import re

import numpy as np
import pytest

import bpx
from bpx.data._adapter import as_data
from bpx.optimizers._lbfgs import Objective


class Table:
    """An objective over θ with f and g given by Python functions of the host vector; records every
    evaluated point (the trial points of the line search) and counts evaluations (``obj.count``)."""

    def __init__(self, backend, f, g, n):
        self.backend, self.xp, self.f, self.g, self.n = backend, backend.xp, f, g, n
        self.dtype = self.xp.float64
        self.count, self.points = 0, []

    def flat(self, params):
        return self.xp.concat([self.xp.reshape(p, (-1,)) for p in params])

    def unflat(self, theta):
        return [theta]

    def __call__(self, theta, d=None):
        x = np.asarray(self.backend.to_numpy(theta), dtype=np.float64)
        self.count += 1
        self.points.append(x.copy())
        f, g = float(self.f(x)), np.asarray(self.g(x), dtype=np.float64)
        gtd = float(g @ np.asarray(self.backend.to_numpy(d))) if d is not None else 0.0
        return f, f, gtd, float(np.max(np.abs(g))), self.backend.asarray(g), x


def quadratic(backend, A, b, c=0.0):
    A, b = np.asarray(A, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return Table(backend, lambda x: 0.5 * x @ A @ x - b @ x + c, lambda x: A @ x - b, len(b))


def start(backend, opt, obj, x0, epochs=100):
    return opt.begin(obj, [backend.asarray(np.asarray(x0, dtype=np.float64))], epochs)


@pytest.fixture
def be(backend, float64):
    return backend


def two_loop(pairs, g):
    """d = −H g, Nocedal & Wright alg. 7.4, in NumPy (H_0 = sᵀy / yᵀy of the newest pair)."""
    q, alphas = -g, []
    for s, y in reversed(pairs):
        a = (s @ q) / (y @ s)
        alphas.append(a)
        q = q - a * y
    s, y = pairs[-1]
    q = q * (s @ y) / (y @ y)
    for (s, y), a in zip(pairs, reversed(alphas)):
        b = (y @ q) / (y @ s)
        q = q + (a - b) * s
    return q


A6 = np.diag([1.0, 2.0, 3.0, 5.0, 8.0, 13.0]) + 0.3 * np.ones((6, 6))
B6 = np.array([1.0, -2.0, 0.5, 3.0, -1.0, 2.0])


def test_two_loop_direction_and_memory_of_history_size_pairs(be):
    """After each iteration the memory is the last 3 pairs (s, y, 1/yᵀs) of the accepted points, and
    the next first trial point is θ + d (t = 1 with a history), d the two-loop recursion in NumPy."""
    obj = quadratic(be, A6, B6)
    opt = bpx.LBFGS(history_size=3, tol=0.0, ftol=0.0)
    x0 = np.array([2.0, 1.0, -1.0, 0.5, 0.0, 1.5])
    assert start(be, opt, obj, x0)
    # a fresh history: d = −g, the first trial step t = 1/‖g‖₂
    g0 = A6 @ x0 - B6
    assert obj.points[1:2] == [] and opt.iterate(obj) is not None
    np.testing.assert_allclose(obj.points[1], x0 - g0 / np.linalg.norm(g0), rtol=1e-14, atol=1e-15)
    xs = [x0, np.asarray(be.to_numpy(opt.params(obj)[0]))]
    for k in range(6):
        pairs = [(xs[i + 1] - xs[i], A6 @ (xs[i + 1] - xs[i])) for i in range(len(xs) - 1)][-3:]
        state = opt.state_dict()
        assert len(state["pairs"]) == len(pairs) == min(k + 1, 3)
        for (s, y, rho), (s_ref, y_ref) in zip(state["pairs"], pairs):
            np.testing.assert_allclose(s, s_ref, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(y, y_ref, rtol=1e-10, atol=1e-12)
            assert rho == pytest.approx(1.0 / (y_ref @ s_ref), rel=1e-10)
        x = xs[-1]
        d = two_loop(pairs, A6 @ x - B6)
        n = len(obj.points)
        assert opt.iterate(obj) is not None
        np.testing.assert_allclose(obj.points[n], x + d, rtol=1e-10, atol=1e-12)
        xs.append(np.asarray(be.to_numpy(opt.params(obj)[0])))
    assert opt.n_iter == 7 and not opt.done


def test_params_are_copies_of_the_accepted_point(be):
    obj = quadratic(be, [[1.0]], [0.0])
    opt = bpx.LBFGS()
    start(be, opt, obj, [3.0])
    opt.iterate(obj)
    p = opt.params(obj)[0]
    assert float(be.to_numpy(p)[0]) == 2.0
    if be.name in ("numpy", "dask"):  # writable host arrays: a write into the result leaves the optimizer alone
        p[0] = 99.0
        assert float(be.to_numpy(opt.params(obj)[0])[0]) == 2.0


# f = ½θ² + c from θ0 = 3 (or 0.75): the first step moves θ by exactly 1 (t = 1/|g|), accepted at once
@pytest.mark.parametrize("x0,c,ftol,converged", [
    (3.0, -0.5, 0.625, True),   # f 4 → 1.5: decrease 2.5 = 0.625·max(4, 1.5, 1) exactly
    (3.0, -0.5, 0.6, False),
    (3.0, -6.0, 0.625, True),   # f −1.5 → −4: decrease 2.5 = 0.625·|−4|
    (3.0, -6.0, 0.6, False),
    (0.75, 0.0, 0.25, True),    # f 0.28125 → 0.03125: decrease 0.25 = 0.25·1
    (0.75, 0.0, 0.2, False),    # 0.25 > 0.2·1 (but ≤ 0.2·2)
])
def test_relative_decrease_stop_at_its_boundary(be, x0, c, ftol, converged):
    obj = quadratic(be, [[1.0]], [0.0], c)
    opt = bpx.LBFGS(tol=0.0, ftol=ftol)
    assert start(be, opt, obj, [x0], epochs=7) and opt.message == "reached epochs=7 iterations"
    f_data, extra = opt.iterate(obj)
    assert f_data == 0.5 * (x0 - 1.0) ** 2 + c and extra[0] == x0 - 1.0
    assert opt.n_iter == 1 and obj.count == 2 and opt.fun == f_data
    assert (opt.converged, opt.done) == (converged, converged)
    assert opt.message == (f"relative decrease of the cost <= ftol={ftol:.3g}" if converged
                           else "reached epochs=7 iterations")


@pytest.mark.parametrize("tol,converged", [(2.0, True), (1.5, False)])
def test_gradient_stop_at_its_boundary(be, tol, converged):
    obj = quadratic(be, [[1.0]], [0.0])  # θ 3 → 2: max|g| = 2
    opt = bpx.LBFGS(tol=tol, ftol=0.0)
    start(be, opt, obj, [3.0])
    assert opt.iterate(obj) is not None
    assert (opt.converged, opt.done) == (converged, converged)
    assert (opt.message == "max|gradient| <= tol=2.0") == converged


def test_gradient_stop_at_the_start(be):
    obj = quadratic(be, [[1.0]], [0.0])
    opt = bpx.LBFGS(tol=0.5)
    assert start(be, opt, obj, [0.5]) and opt.converged and opt.message == "max|gradient| <= tol=0.5 at the start"
    opt2 = bpx.LBFGS(tol=0.25)
    assert start(be, opt2, quadratic(be, [[1.0]], [0.0]), [0.5]) and not opt2.converged


def test_zero_gradient_is_no_descent_direction(be):
    obj = quadratic(be, [[1.0]], [0.0])
    opt = bpx.LBFGS(tol=0.0)
    start(be, opt, obj, [0.0])
    assert opt.iterate(obj) is None
    assert opt.converged and opt.message == "no descent direction (zero gradient)" and obj.count == 1


def test_evaluation_budget(be):
    # max_fun = 2: begin and one accepted trial point, then done; another iterate takes no step
    obj = quadratic(be, [[1.0]], [0.0])
    opt = bpx.LBFGS(tol=0.0, ftol=0.0, max_fun=2)
    start(be, opt, obj, [3.0])
    assert opt.iterate(obj) is not None and opt.done and not opt.converged
    assert opt.message == "reached max_fun=2 cost evaluations" and obj.count == 2
    opt.message = ""
    assert opt.iterate(obj) is None and obj.count == 2 and opt.message == "reached max_fun=2 cost evaluations"
    # from θ = 100 the first trial (99) is too short for the curvature condition: the line search would
    # extrapolate, but only max_fun − count = 1 evaluation is left
    obj = quadratic(be, [[1.0]], [0.0])
    opt = bpx.LBFGS(tol=0.0, ftol=0.0, max_fun=2)
    start(be, opt, obj, [100.0])
    f_data, extra = opt.iterate(obj)
    assert obj.count == 2 and extra[0] == 99.0 and opt.done


def test_no_lower_cost_on_a_fresh_history_stops(be):
    # f constant, gradient 1: no trial point lowers f; the line search spends max_ls evaluations
    obj = Table(be, lambda x: 1.0, lambda x: np.ones(1), 1)
    opt = bpx.LBFGS(tol=0.0, max_ls=5)
    start(be, opt, obj, [0.0])
    assert opt.iterate(obj) is None
    assert opt.message == "the line search found no lower cost (precision limit)" and not opt.converged
    assert obj.count == 6 and opt.n_iter == 0


def test_a_history_that_gives_no_descent_is_forgotten(be):
    # a loaded pair with 1/yᵀs = −1 (s = 1, y = −1) turns −g into d = +g: forget it, take −g, first step 1/|g|
    obj = quadratic(be, [[1.0]], [0.0])
    opt = bpx.LBFGS(tol=0.0, ftol=0.0)
    start(be, opt, obj, [0.5])
    state = opt.state_dict()
    state["pairs"] = [[np.array([1.0]), np.array([-1.0]), -1.0]]
    opt.load_state_dict(state, be.asarray)
    assert opt.iterate(obj) is not None
    assert obj.points[1][0] == -0.5  # 0.5 − 2 · 0.5
    assert len(opt.state_dict()["pairs"]) == 1 and opt.n_iter == 1


def test_a_history_direction_orthogonal_to_the_gradient_is_forgotten(be):
    # the pair s = (1, 0), y = (1, −2), 1/yᵀs = −2 turns g = (1, 3) into d = (−0.6, 0.2): gᵀd = 0 exactly,
    # no descent: the history goes and −g is taken (a step, not a stop)
    obj = quadratic(be, np.eye(2), [0.0, 0.0])
    opt = bpx.LBFGS(tol=0.0, ftol=0.0)
    start(be, opt, obj, [1.0, 3.0])
    state = opt.state_dict()
    state["pairs"] = [[np.array([1.0, 0.0]), np.array([1.0, -2.0]), -2.0]]
    opt.load_state_dict(state, be.asarray)
    assert opt.iterate(obj) is not None and opt.n_iter == 1 and not opt.converged
    np.testing.assert_allclose(obj.points[1], np.array([1.0, 3.0]) * (1.0 - 1.0 / math.sqrt(10.0)), rtol=1e-15)


@pytest.mark.parametrize("g0,g_new,kept", [
    (-4.0, -4.0 + 2.0 ** -50, False),  # yᵀs = 2⁻⁵⁰ = eps · (−t gᵀd) = 2⁻⁵² · 4: not kept (strict)
    (-4.0, -4.0 + 2.0 ** -49, True),
    (-0.25, -0.25 + 2.0 ** -53, True),  # −t gᵀd = 1/4 < 1: the threshold is 2⁻⁵⁴
    (-0.25, -0.25 - 2.0 ** -53, False),  # yᵀs < 0
])
def test_curvature_test_of_a_new_pair(be, g0, g_new, kept):
    # θ 0 → 1 (d = −g0, t = 1/|g0|, s = 1) in one evaluation (max_ls = 1), y = g_new − g0
    obj = Table(be, lambda x: -float(x[0]), lambda x: np.array([g0 if x[0] == 0.0 else g_new]), 1)
    opt = bpx.LBFGS(tol=0.0, ftol=0.0, max_ls=1)
    start(be, opt, obj, [0.0])
    assert opt.iterate(obj) is not None and obj.points[1][0] == 1.0
    pairs = opt.state_dict()["pairs"]
    assert len(pairs) == kept
    if kept:
        assert pairs[0][2] == 1.0 / (g_new - g0)


def test_state_round_trip_continues_bit_identically(be):
    obj = quadratic(be, A6, B6)
    opt = bpx.LBFGS(history_size=2, tol=0.0, ftol=0.0)
    start(be, opt, obj, np.ones(6), epochs=5)
    for _ in range(3):
        f_data, _ = opt.iterate(obj)
    state = opt.state_dict()
    assert state["fun_data"] == f_data == opt.fun_data and state["message"] == "reached epochs=5 iterations"
    assert state["n_iter"] == 3 and len(state["pairs"]) == 2
    params = opt.params(obj)
    twin, obj2 = bpx.LBFGS(history_size=2, tol=0.0, ftol=0.0), quadratic(be, A6, B6)
    twin.load_state_dict(state, be.asarray)
    twin.resume(obj2, params, 10)
    assert twin.message == "reached epochs=5 iterations" and obj2.count == 0  # no new evaluation
    for _ in range(3):
        assert opt.iterate(obj)[0] == twin.iterate(obj2)[0]
    np.testing.assert_array_equal(be.to_numpy(opt.params(obj)[0]), be.to_numpy(twin.params(obj2)[0]))
    assert twin.n_iter == 6 and twin.state_dict()["fun"] == opt.fun


def test_resume_message_when_the_epochs_are_used(be):
    obj = quadratic(be, A6, B6)
    opt = bpx.LBFGS(tol=0.0, ftol=0.0)
    start(be, opt, obj, np.ones(6), epochs=5)
    opt.iterate(obj), opt.iterate(obj)
    state = opt.state_dict()
    for epochs, message in [(2, "reached epochs=2 iterations"), (1, "reached epochs=1 iterations"),
                            (3, "reached epochs=5 iterations")]:
        twin = bpx.LBFGS()
        twin.load_state_dict(state, be.asarray)
        twin.resume(obj, opt.params(obj), epochs)
        assert twin.message == message
    converged = dict(state, converged=True, message="max|gradient| <= tol=0.1")
    twin = bpx.LBFGS()
    twin.load_state_dict(converged, be.asarray)
    twin.resume(obj, opt.params(obj), 1)
    assert twin.message == "max|gradient| <= tol=0.1"


def test_fresh_state_round_trip():
    opt = bpx.LBFGS()
    assert (opt.n_iter, opt.n_fun, opt.converged, opt.message, opt.fun, opt.fun_data) == (0, 0, False, "", None, None)
    twin = bpx.LBFGS()
    twin.load_state_dict(opt.state_dict(), np.asarray)
    state = twin.state_dict()
    assert state["g"] is None and state["pairs"] == [] and state["message"] == "" and state["fun_data"] is None


def test_another_network_shape_is_refused(be):
    opt = bpx.LBFGS()
    start(be, opt, quadratic(be, [[1.0]], [0.0]), [1.0])
    with pytest.raises(ValueError, match=re.escape("parameters of shapes [(1,)], now it gets [(2,)]")):
        start(be, opt, quadratic(be, np.eye(2), [0.0, 0.0]), [1.0, 1.0])


STEP_REFUSED = ("bpx.LBFGS needs the cost at trial points along a line, not one gradient: train with "
                "net.fit(X, Y, epochs=E, optimizer=bpx.LBFGS()) (full batch), not train_step or another loop")


def test_per_batch_use_is_refused_with_the_way_to_train():
    opt = bpx.LBFGS()
    for call in (lambda: opt.prepare([np.zeros(2)]), lambda: opt.step([np.zeros(2)], [np.zeros(2)]),
                 lambda: opt.update([np.zeros(2)], [np.zeros(2)])):
        with pytest.raises(TypeError) as info:
            call()
        assert str(info.value) == STEP_REFUSED


def test_defaults_and_argument_errors():
    assert repr(bpx.LBFGS()) == ("LBFGS(history_size=10, tol=1e-05, ftol=2.220446049250313e-09, max_fun=15000, "
                                 "max_ls=20, weight_decay=0.0)")
    for name in ("history_size", "tol", "ftol", "max_fun", "max_ls"):
        with pytest.raises((TypeError, ValueError), match=rf"\b{name}\b"):
            bpx.LBFGS(**{name: "x"})
    for name in ("tol", "ftol"):
        with pytest.raises(ValueError, match=rf"\b{name}\b"):
            bpx.LBFGS(**{name: -1.0})
    assert math.isclose(bpx.LBFGS(ftol=0.0).ftol, 0.0)


def test_objective_adds_the_weight_decay_of_the_weights_only(backend, dtype, to_input):
    net = bpx.MLP([3, 4, 2], activation="tanh", output="softmax", loss="cross_entropy", backend=backend,
                  dtype=dtype, seed=1)
    X = np.linspace(-1.0, 1.0, 15).reshape(5, 3)
    Xd, Yd = as_data(net, to_input(X), np.array([0, 1, 1, 0, 1]))
    obj = Objective(net, Xd, Yd, None, weight_decay=0.25)
    assert obj.count == 0
    params = [p + 0.5 for p in net.params]  # biases not zero: they must not count
    f, f_data, gtd, gmax, g, _ = obj(obj.flat(params))
    assert obj.count == 1 and gtd == 0.0 and g.dtype == backend.dtype(dtype)
    weights = sum(float(np.sum(np.asarray(bpx.to_numpy(W), dtype=np.float64) ** 2)) for W in params[0::2])
    assert f - f_data == pytest.approx(0.125 * weights, rel=1e-12 if dtype == "float64" else 1e-4)
    # a non-finite slope makes the point unusable: its cost reads as infinite
    assert obj.result(np.array([1.0, 1.0, np.nan, 0.5]), g, None)[:3] == (math.inf, 1.0, math.inf)
    assert obj.result(np.array([np.inf, 1.0, 2.0, 0.5]), g, None)[:3] == (math.inf, 1.0, math.inf)
    assert obj.result(np.array([1.0, 1.0, 2.0, 0.5]), g, None)[:4] == (1.0, 1.0, 2.0, 0.5) and obj.count == 4


# -- the line search: its trial steps against torch's over many lines, and bpx's own branches pinned --------
def _line(f, g, x0, d, t0, max_evals):
    from bpx.optimizers._lbfgs import _strong_wolfe

    tried = []

    def objective(theta, direction):
        x = float(theta[0])
        tried.append(x)
        # the data cost and max|g| differ from what the line search must read (C and gᵀd)
        return f(x), f(x) - 1000.0, g(x) * float(direction[0]), 1e6, np.array([g(x)]), x

    t, new = _strong_wolfe(objective, np.array([x0]), t0, np.array([d]), f(x0), g(x0) * d, max_evals)
    return tried, t, new


SWEEP = {  # f and f' through math; each with a start x0 (descent along d = −f'(x0))
    "wiggle": (lambda x, m: m.sin(5.0 * x) + x * x, lambda x, m: 5.0 * m.cos(5.0 * x) + 2.0 * x, 0.3),
    "cliff": (lambda x, m: m.log(1.0 + m.exp(8.0 * (x - 2.0))) - x,
              lambda x, m: 8.0 / (1.0 + m.exp(-8.0 * (x - 2.0))) - 1.0, 0.0),
    "flat_then_wall": (lambda x, m: (x - 1.0) ** 8 - 0.01 * x, lambda x, m: 8.0 * (x - 1.0) ** 7 - 0.01, -1.0),
    "cosh": (lambda x, m: m.cosh(1.5 * (x - 0.7)), lambda x, m: 1.5 * m.sinh(1.5 * (x - 0.7)), 0.0),
    "rosen_line": (lambda x, m: (1.0 - x) ** 2 + 100.0 * (x * x - x) ** 2,
                   lambda x, m: -2.0 * (1.0 - x) + 200.0 * (x * x - x) * (2.0 * x - 1.0), -0.4),
    "narrow_well": (lambda x, m: -m.exp(-50.0 * (x - 0.9) ** 2) + 0.1 * x * x,
                    lambda x, m: 100.0 * (x - 0.9) * m.exp(-50.0 * (x - 0.9) ** 2) + 0.2 * x, 0.5),
    "quad": (lambda x, m: (x - 1.0) ** 2, lambda x, m: 2.0 * (x - 1.0), 0.0),
    "smooth_abs": (lambda x, m: (0.0001 + (x - 1.0) ** 2) ** 0.5, lambda x, m: (x - 1.0) / (0.0001 + (x - 1.0) ** 2) ** 0.5, 0.0),
    "tanh_step": (lambda x, m: 0.05 * x * x - m.tanh(10.0 * (x - 1.5)),
                  lambda x, m: 0.1 * x - 10.0 / m.cosh(10.0 * (x - 1.5)) ** 2, 1.2),
    "ripples": (lambda x, m: x * x + 0.5 * m.sin(20.0 * x), lambda x, m: 2.0 * x + 10.0 * m.cos(20.0 * x), 0.7),
    "double_well": (lambda x, m: (x * x - 1.0) ** 2 + 0.3 * x, lambda x, m: 4.0 * x * (x * x - 1.0) + 0.3, 0.1),
    "quartic_far": (lambda x, m: (x - 3.0) ** 4 + 0.5 * x * x, lambda x, m: 4.0 * (x - 3.0) ** 3 + x, -1.0),
}


NONSMOOTH = {  # lines the cubic models badly (jumps, kinks, plateaus; g need not be f's slope): the zoom's
    # safeguards and ties of equal costs (the slopes vary, so the cubic never degenerates: there bpx takes the
    # midpoint where torch's tensor division clips ±inf to a bound)
    "jump": (lambda x, m: x * x - x if x < 0.5 else 10.0 - x, lambda x, m: 2.0 * x - 1.0 if x < 0.5 else 0.3 * x - 1.0, 0.0),
    "jump_far": (lambda x, m: 0.1 * x * x - x if x < 2.5 else 10.0 - x, lambda x, m: 0.2 * x - 1.0 if x < 2.5 else -0.5, 0.0),
    "kink": (lambda x, m: abs(x - 1.0) + 0.1 * x * x, lambda x, m: (1.0 if x > 1.0 else -1.0) + 0.2 * x, 0.0),
    "stairs": (lambda x, m: -math.floor(4.0 * x) / 4.0 + (0.0 if x < 1.6 else 8.0 * (x - 1.6)),
               lambda x, m: -1.0 + 0.1 * x if x < 1.6 else 8.0, 0.0),
    "flat": (lambda x, m: 1.0, lambda x, m: 4.0 + x, 0.0),
    "wall": (lambda x, m: x * x - 2.0 * x if x < 0.8 else 5.0, lambda x, m: 2.0 * x - 2.0 if x < 0.8 else 3.0, 0.0),
    "plateau": (lambda x, m: 0.0 if x == 0.0 else -1.0, lambda x, m: -1.0 + 0.1 * x, 0.0),  # equal costs
    # the cost on the sufficient-decrease line itself (d = 1: f + C1·t·gᵀd in the same operations)
    "armijo_line": (lambda x, m: 0.0 + 1e-4 * x * -1.0, lambda x, m: -1.0 + 0.05 * x, 0.0),
    "curvature_tie": (lambda x, m: -x if x < 1.0 else x - 2.0, lambda x, m: -1.0 + 0.2 * x if x < 1.0 else 0.9, 0.0),
    # a step so short that f + C1·t·gᵀd rounds to f: the Wolfe point does not lower the cost, no step
    "flat_tiny": (lambda x, m: 1.0, lambda x, m: -1e-7 if x == 0.0 else 0.0, 0.0),
    # lower than the slope promises, then rising: the cubic's step falls near the far end of the bracket
    "hook": (lambda x, m: -1.5 * x if x < 1.0 else -1.5 + 0.95 * (x - 1.0), lambda x, m: -1.0 if x < 1.0 else 0.95, 0.0),
    # a wall at 1 brackets the step; inside, the zoom's points lie exactly on (or just above) the sufficient-
    # decrease line, or have |gᵀd| exactly C2·|gᵀd₀|
    "armijo_wall": (lambda x, m: 0.0 + 1e-4 * x * -1.0 if x < 1.0 else 5.0,
                    lambda x, m: -1.0 if x == 0.0 else (-0.95 if x < 1.0 else 3.0), 0.0),
    "armijo_short": (lambda x, m: -0.5e-4 * x if x < 1.0 else 5.0,
                     lambda x, m: -1.0 if x == 0.0 else (-0.95 if x < 1.0 else 3.0), 0.0),
    "curvature_tie_in_zoom": (lambda x, m: -x if x < 1.0 else 5.0,
                              lambda x, m: -1.0 if x == 0.0 else (-0.9 if x < 1.0 else 3.0), 0.0),
    # a slope pointing the other way inside the bracket: the zoom's cubic step is clipped onto an end
    "clipped": (lambda x, m: -0.5 * x if x < 1.0 else -2.0 + 2.0 * (x - 1.0),
                lambda x, m: -1.0 if x == 0.0 else (0.5 if x < 1.0 else 10.0), 0.0),
    "hook_steep": (lambda x, m: -3.0 * x if x < 1.0 else -3.0 + 2.0 * (x - 1.0), lambda x, m: -1.0 if x < 1.0 else 0.92, 0.0),
}


@pytest.mark.parametrize("max_evals", [25, 6])
@pytest.mark.parametrize("t0", [0.05, 0.3, 0.7, 0.975, 1.0, 1.3, 3.0, 30.0])
@pytest.mark.parametrize("name", sorted(SWEEP) + sorted(NONSMOOTH))
def test_line_search_sweep_tries_torchs_steps(name, t0, max_evals):
    torch = pytest.importorskip("torch")
    from torch.optim.lbfgs import _strong_wolfe as torch_strong_wolfe

    f, g, x0 = SWEEP.get(name) or NONSMOOTH[name]
    d = -g(x0, math)
    ours, t, new = _line(lambda x: f(x, math), lambda x: g(x, math), x0, d, t0, max_evals)
    theirs = []

    def torch_objective(x, step, direction):  # the same Python math at the same point
        point = float((x + step * direction)[0])
        theirs.append(point)
        return f(point, math), torch.tensor([g(point, math)], dtype=torch.float64)

    X, D = torch.tensor([x0], dtype=torch.float64), torch.tensor([d], dtype=torch.float64)
    _, _, t_torch, evals = torch_strong_wolfe(torch_objective, X, t0, D, f(x0, math),
                                              torch.tensor([g(x0, math)], dtype=torch.float64), g(x0, math) * d,
                                              max_ls=max_evals)
    # bpx never evaluates more than max_evals times (torch's max_ls may take one more): the same trial steps
    # (to 1e-13; on tanh_step the cubic's cancellation magnifies torch's tensor rounding to ~3e-12)
    rel = 1e-9 if name == "tanh_step" else 1e-13
    assert len(ours) == min(evals, max_evals) and ours == pytest.approx(theirs[:len(ours)], rel=rel, abs=1e-15)
    if evals > max_evals:
        return  # bpx's own out-of-evaluations branch: test_line_search_within_its_budget
    t_torch = float(t_torch)
    if new is None:  # no lower cost found: bpx takes no step where torch's bracket end is the start
        assert t == 0.0 and (t_torch == 0.0 or f(x0 + t_torch * d, math) >= f(x0, math))
    else:
        assert t == pytest.approx(t_torch, rel=rel) and new[-1] == pytest.approx(x0 + t * d, rel=1e-13)
        assert new[0] == f(new[-1], math) < f(x0, math)


# bpx's own budget branch (out of evaluations while extrapolating or zooming): the evaluations made and
# the step returned, pinned (float64; the trial steps themselves are torch's, see the test above)
LINE_BUDGET = {  # (line, t0, max_evals): (evaluations, step)
    ('armijo_line', 0.05, 1): (1, 0.05),
    ('armijo_line', 0.05, 2): (2, 0.0505),
    ('armijo_line', 0.05, 3): (3, 0.050505),
    ('armijo_line', 0.05, 5): (5, 0.0505050505),
    ('armijo_line', 0.3, 1): (1, 0.3),
    ('armijo_line', 0.3, 2): (2, 0.303),
    ('armijo_line', 0.3, 3): (3, 0.30302999999999997),
    ('armijo_line', 0.3, 5): (5, 0.303030303),
    ('armijo_line', 1.0, 1): (1, 1.0),
    ('armijo_line', 1.0, 2): (2, 1.01),
    ('armijo_line', 1.0, 3): (3, 1.0101),
    ('armijo_line', 1.0, 5): (5, 1.0101010099999999),
    ('armijo_line', 3.0, 1): (1, 3.0),
    ('armijo_line', 3.0, 2): (1, 3.0),
    ('armijo_line', 3.0, 3): (1, 3.0),
    ('armijo_line', 3.0, 5): (1, 3.0),
    ('armijo_line', 30.0, 1): (1, 30.0),
    ('armijo_line', 30.0, 2): (1, 30.0),
    ('armijo_line', 30.0, 3): (1, 30.0),
    ('armijo_line', 30.0, 5): (1, 30.0),
    ('armijo_short', 0.05, 1): (1, 0.05),
    ('armijo_short', 0.05, 2): (2, 0.05),
    ('armijo_short', 0.05, 3): (3, 0.05),
    ('armijo_short', 0.05, 5): (5, 0.05),
    ('armijo_short', 0.3, 1): (1, 0.3),
    ('armijo_short', 0.3, 2): (2, 0.3),
    ('armijo_short', 0.3, 3): (3, 0.3),
    ('armijo_short', 0.3, 5): (5, 0.3),
    ('armijo_short', 1.0, 1): (1, 0.0),
    ('armijo_short', 1.0, 2): (2, 0.03688012297483323),
    ('armijo_short', 1.0, 3): (3, 0.03688012297483323),
    ('armijo_short', 1.0, 5): (5, 0.03688012297483323),
    ('armijo_short', 3.0, 1): (1, 0.0),
    ('armijo_short', 3.0, 2): (2, 0.401923788646684),
    ('armijo_short', 3.0, 3): (3, 0.401923788646684),
    ('armijo_short', 3.0, 5): (5, 0.401923788646684),
    ('armijo_short', 30.0, 1): (1, 0.0),
    ('armijo_short', 30.0, 2): (2, 0.0),
    ('armijo_short', 30.0, 3): (3, 0.0),
    ('armijo_short', 30.0, 5): (5, 0.5470826627219205),
    ('armijo_wall', 0.05, 1): (1, 0.05),
    ('armijo_wall', 0.05, 2): (2, 0.0505),
    ('armijo_wall', 0.05, 3): (3, 0.050505),
    ('armijo_wall', 0.05, 5): (5, 0.0505050505),
    ('armijo_wall', 0.3, 1): (1, 0.3),
    ('armijo_wall', 0.3, 2): (2, 0.303),
    ('armijo_wall', 0.3, 3): (3, 0.30302999999999997),
    ('armijo_wall', 0.3, 5): (5, 0.303030303),
    ('armijo_wall', 1.0, 1): (1, 0.0),
    ('armijo_wall', 1.0, 2): (2, 0.03688012297483323),
    ('armijo_wall', 1.0, 3): (3, 0.13319211067734993),
    ('armijo_wall', 1.0, 5): (5, 0.24336104837015463),
    ('armijo_wall', 3.0, 1): (1, 0.0),
    ('armijo_wall', 3.0, 2): (2, 0.401923788646684),
    ('armijo_wall', 3.0, 3): (3, 0.6836167255165777),
    ('armijo_wall', 3.0, 5): (5, 0.9012260392960285),
    ('armijo_wall', 30.0, 1): (1, 0.0),
    ('armijo_wall', 30.0, 2): (2, 0.0),
    ('armijo_wall', 30.0, 3): (3, 0.0),
    ('armijo_wall', 30.0, 5): (5, 0.5470826627219205),
    ('cliff', 0.05, 1): (1, 0.05),
    ('cliff', 0.05, 2): (2, 0.5),
    ('cliff', 0.05, 3): (3, 0.5),
    ('cliff', 0.05, 5): (5, 1.2115623124751551),
    ('cliff', 0.3, 1): (1, 0.3),
    ('cliff', 0.3, 2): (2, 0.3),
    ('cliff', 0.3, 3): (3, 1.0628453334667212),
    ('cliff', 0.3, 5): (5, 1.4296884388114524),
    ('cliff', 1.0, 1): (1, 1.0),
    ('cliff', 1.0, 2): (2, 1.0),
    ('cliff', 1.0, 3): (3, 1.3460464553420444),
    ('cliff', 1.0, 5): (5, 1.705164478517963),
    ('cliff', 3.0, 1): (1, 0.0),
    ('cliff', 3.0, 2): (2, 1.0601097214611817),
    ('cliff', 3.0, 3): (3, 1.283504686385831),
    ('cliff', 3.0, 5): (5, 1.5857048225989858),
    ('cliff', 30.0, 1): (1, 0.0),
    ('cliff', 30.0, 2): (2, 1.06918647465616),
    ('cliff', 30.0, 3): (3, 1.06918647465616),
    ('cliff', 30.0, 5): (5, 1.5204153076618012),
    ('clipped', 0.05, 1): (1, 0.05),
    ('clipped', 0.05, 2): (1, 0.05),
    ('clipped', 0.05, 3): (1, 0.05),
    ('clipped', 0.05, 5): (1, 0.05),
    ('clipped', 0.3, 1): (1, 0.3),
    ('clipped', 0.3, 2): (1, 0.3),
    ('clipped', 0.3, 3): (1, 0.3),
    ('clipped', 0.3, 5): (1, 0.3),
    ('clipped', 1.0, 1): (1, 1.0),
    ('clipped', 1.0, 2): (2, 1.0),
    ('clipped', 1.0, 3): (3, 1.0),
    ('clipped', 1.0, 5): (5, 1.0),
    ('clipped', 3.0, 1): (1, 0.0),
    ('clipped', 3.0, 2): (2, 1.784497271461123),
    ('clipped', 3.0, 3): (3, 1.188679938622867),
    ('clipped', 3.0, 5): (5, 1.127187289057172),
    ('clipped', 30.0, 1): (1, 0.0),
    ('clipped', 30.0, 2): (2, 0.0),
    ('clipped', 30.0, 3): (3, 0.0),
    ('clipped', 30.0, 5): (5, 1.9076238629720466),
    ('cosh', 0.05, 1): (1, 0.05),
    ('cosh', 0.05, 2): (1, 0.05),
    ('cosh', 0.05, 3): (1, 0.05),
    ('cosh', 0.05, 5): (1, 0.05),
    ('cosh', 0.3, 1): (1, 0.3),
    ('cosh', 0.3, 2): (1, 0.3),
    ('cosh', 0.3, 3): (1, 0.3),
    ('cosh', 0.3, 5): (1, 0.3),
    ('cosh', 1.0, 1): (1, 0.0),
    ('cosh', 1.0, 2): (2, 0.41004745136105536),
    ('cosh', 1.0, 3): (2, 0.41004745136105536),
    ('cosh', 1.0, 5): (2, 0.41004745136105536),
    ('cosh', 3.0, 1): (1, 0.0),
    ('cosh', 3.0, 2): (2, 0.0),
    ('cosh', 3.0, 3): (3, 0.0),
    ('cosh', 3.0, 5): (4, 0.37247450166446955),
    ('cosh', 30.0, 1): (1, 0.0),
    ('cosh', 30.0, 2): (2, 0.0),
    ('cosh', 30.0, 3): (3, 0.0),
    ('cosh', 30.0, 5): (5, 0.0),
    ('curvature_tie', 0.05, 1): (1, 0.05),
    ('curvature_tie', 0.05, 2): (2, 0.3058225262149538),
    ('curvature_tie', 0.05, 3): (3, 0.7066650254941163),
    ('curvature_tie', 0.05, 5): (3, 0.7066650254941163),
    ('curvature_tie', 0.3, 1): (1, 0.3),
    ('curvature_tie', 0.3, 2): (2, 0.8141428428542845),
    ('curvature_tie', 0.3, 3): (2, 0.8141428428542845),
    ('curvature_tie', 0.3, 5): (2, 0.8141428428542845),
    ('curvature_tie', 1.0, 1): (1, 1.0),
    ('curvature_tie', 1.0, 2): (1, 1.0),
    ('curvature_tie', 1.0, 3): (1, 1.0),
    ('curvature_tie', 1.0, 5): (1, 1.0),
    ('curvature_tie', 3.0, 1): (1, 0.0),
    ('curvature_tie', 3.0, 2): (2, 0.8444557765651366),
    ('curvature_tie', 3.0, 3): (2, 0.8444557765651366),
    ('curvature_tie', 3.0, 5): (2, 0.8444557765651366),
    ('curvature_tie', 30.0, 1): (1, 0.0),
    ('curvature_tie', 30.0, 2): (2, 0.0),
    ('curvature_tie', 30.0, 3): (3, 0.9251273011706811),
    ('curvature_tie', 30.0, 5): (3, 0.9251273011706811),
    ('curvature_tie_in_zoom', 0.05, 1): (1, 0.05),
    ('curvature_tie_in_zoom', 0.05, 2): (1, 0.05),
    ('curvature_tie_in_zoom', 0.05, 3): (1, 0.05),
    ('curvature_tie_in_zoom', 0.05, 5): (1, 0.05),
    ('curvature_tie_in_zoom', 0.3, 1): (1, 0.3),
    ('curvature_tie_in_zoom', 0.3, 2): (1, 0.3),
    ('curvature_tie_in_zoom', 0.3, 3): (1, 0.3),
    ('curvature_tie_in_zoom', 0.3, 5): (1, 0.3),
    ('curvature_tie_in_zoom', 1.0, 1): (1, 0.0),
    ('curvature_tie_in_zoom', 1.0, 2): (2, 0.03688012297483323),
    ('curvature_tie_in_zoom', 1.0, 3): (2, 0.03688012297483323),
    ('curvature_tie_in_zoom', 1.0, 5): (2, 0.03688012297483323),
    ('curvature_tie_in_zoom', 3.0, 1): (1, 0.0),
    ('curvature_tie_in_zoom', 3.0, 2): (2, 0.401923788646684),
    ('curvature_tie_in_zoom', 3.0, 3): (2, 0.401923788646684),
    ('curvature_tie_in_zoom', 3.0, 5): (2, 0.401923788646684),
    ('curvature_tie_in_zoom', 30.0, 1): (1, 0.0),
    ('curvature_tie_in_zoom', 30.0, 2): (2, 0.0),
    ('curvature_tie_in_zoom', 30.0, 3): (3, 0.0),
    ('curvature_tie_in_zoom', 30.0, 5): (5, 0.5470826627219205),
    ('double_well', 0.05, 1): (1, 0.05),
    ('double_well', 0.05, 2): (2, 0.5),
    ('double_well', 0.05, 3): (3, 5.0),
    ('double_well', 0.05, 5): (5, 8.920406553373867),
    ('double_well', 0.3, 1): (1, 0.3),
    ('double_well', 0.3, 2): (2, 3.0),
    ('double_well', 0.3, 3): (3, 3.0),
    ('double_well', 0.3, 5): (4, 8.899642395374482),
    ('double_well', 1.0, 1): (1, 1.0),
    ('double_well', 1.0, 2): (2, 10.0),
    ('double_well', 1.0, 3): (3, 8.79399525993083),
    ('double_well', 1.0, 5): (4, 8.960285283029208),
    ('double_well', 3.0, 1): (1, 3.0),
    ('double_well', 3.0, 2): (2, 3.0),
    ('double_well', 3.0, 3): (3, 8.938586169010893),
    ('double_well', 3.0, 5): (3, 8.938586169010893),
    ('double_well', 30.0, 1): (1, 0.0),
    ('double_well', 30.0, 2): (2, 11.586348119479169),
    ('double_well', 30.0, 3): (3, 8.561138645126551),
    ('double_well', 30.0, 5): (4, 8.966019401326447),
    ('flat', 0.05, 1): (1, 0.0),
    ('flat', 0.05, 2): (2, 0.0),
    ('flat', 0.05, 3): (3, 0.0),
    ('flat', 0.05, 5): (5, 0.0),
    ('flat', 0.3, 1): (1, 0.0),
    ('flat', 0.3, 2): (2, 0.0),
    ('flat', 0.3, 3): (3, 0.0),
    ('flat', 0.3, 5): (5, 0.0),
    ('flat', 1.0, 1): (1, 0.0),
    ('flat', 1.0, 2): (2, 0.0),
    ('flat', 1.0, 3): (3, 0.0),
    ('flat', 1.0, 5): (5, 0.0),
    ('flat', 3.0, 1): (1, 0.0),
    ('flat', 3.0, 2): (2, 0.0),
    ('flat', 3.0, 3): (3, 0.0),
    ('flat', 3.0, 5): (5, 0.0),
    ('flat', 30.0, 1): (1, 0.0),
    ('flat', 30.0, 2): (2, 0.0),
    ('flat', 30.0, 3): (3, 0.0),
    ('flat', 30.0, 5): (5, 0.0),
    ('flat_then_wall', 0.05, 1): (1, 0.0),
    ('flat_then_wall', 0.05, 2): (2, 0.0),
    ('flat_then_wall', 0.05, 3): (3, 0.0),
    ('flat_then_wall', 0.05, 5): (5, 0.0),
    ('flat_then_wall', 0.3, 1): (1, 0.0),
    ('flat_then_wall', 0.3, 2): (2, 0.0),
    ('flat_then_wall', 0.3, 3): (3, 0.0),
    ('flat_then_wall', 0.3, 5): (5, 0.0),
    ('flat_then_wall', 1.0, 1): (1, 0.0),
    ('flat_then_wall', 1.0, 2): (2, 0.0),
    ('flat_then_wall', 1.0, 3): (3, 0.0),
    ('flat_then_wall', 1.0, 5): (5, 0.0),
    ('flat_then_wall', 3.0, 1): (1, 0.0),
    ('flat_then_wall', 3.0, 2): (2, 0.0),
    ('flat_then_wall', 3.0, 3): (3, 0.0),
    ('flat_then_wall', 3.0, 5): (5, 0.0),
    ('flat_then_wall', 30.0, 1): (1, 0.0),
    ('flat_then_wall', 30.0, 2): (2, 0.0),
    ('flat_then_wall', 30.0, 3): (3, 0.0),
    ('flat_then_wall', 30.0, 5): (5, 0.0),
    ('flat_tiny', 0.05, 1): (1, 0.0),
    ('flat_tiny', 0.05, 2): (1, 0.0),
    ('flat_tiny', 0.05, 3): (1, 0.0),
    ('flat_tiny', 0.05, 5): (1, 0.0),
    ('flat_tiny', 0.3, 1): (1, 0.0),
    ('flat_tiny', 0.3, 2): (1, 0.0),
    ('flat_tiny', 0.3, 3): (1, 0.0),
    ('flat_tiny', 0.3, 5): (1, 0.0),
    ('flat_tiny', 1.0, 1): (1, 0.0),
    ('flat_tiny', 1.0, 2): (1, 0.0),
    ('flat_tiny', 1.0, 3): (1, 0.0),
    ('flat_tiny', 1.0, 5): (1, 0.0),
    ('flat_tiny', 3.0, 1): (1, 0.0),
    ('flat_tiny', 3.0, 2): (1, 0.0),
    ('flat_tiny', 3.0, 3): (1, 0.0),
    ('flat_tiny', 3.0, 5): (1, 0.0),
    ('flat_tiny', 30.0, 1): (1, 0.0),
    ('flat_tiny', 30.0, 2): (1, 0.0),
    ('flat_tiny', 30.0, 3): (1, 0.0),
    ('flat_tiny', 30.0, 5): (1, 0.0),
    ('hook', 0.05, 1): (1, 0.05),
    ('hook', 0.05, 2): (2, 0.06318813079129867),
    ('hook', 0.05, 3): (3, 0.06666666666666668),
    ('hook', 0.05, 5): (5, 0.06782617862512269),
    ('hook', 0.3, 1): (1, 0.3),
    ('hook', 0.3, 2): (2, 0.379128784747792),
    ('hook', 0.3, 3): (3, 0.39999999999999997),
    ('hook', 0.3, 5): (5, 0.406957071750736),
    ('hook', 1.0, 1): (1, 1.0),
    ('hook', 1.0, 2): (2, 1.0),
    ('hook', 1.0, 3): (3, 1.0),
    ('hook', 1.0, 5): (5, 1.0),
    ('hook', 3.0, 1): (1, 0.0),
    ('hook', 3.0, 2): (2, 1.188803596802544),
    ('hook', 3.0, 3): (3, 1.0413096585884605),
    ('hook', 3.0, 5): (5, 1.018382277496094),
    ('hook', 30.0, 1): (1, 0.0),
    ('hook', 30.0, 2): (2, 0.0),
    ('hook', 30.0, 3): (3, 1.172743938451661),
    ('hook', 30.0, 5): (5, 1.0303283885720371),
    ('hook_steep', 0.05, 1): (1, 0.05),
    ('hook_steep', 0.05, 2): (2, 0.05386751345948129),
    ('hook_steep', 0.05, 3): (3, 0.05416666666666667),
    ('hook_steep', 0.05, 5): (5, 0.05419159610059879),
    ('hook_steep', 0.3, 1): (1, 0.3),
    ('hook_steep', 0.3, 2): (2, 0.32320508075688775),
    ('hook_steep', 0.3, 3): (3, 0.325),
    ('hook_steep', 0.3, 5): (5, 0.32514957660359267),
    ('hook_steep', 1.0, 1): (1, 1.0),
    ('hook_steep', 1.0, 2): (2, 1.0),
    ('hook_steep', 1.0, 3): (3, 1.0),
    ('hook_steep', 1.0, 5): (5, 1.0),
    ('hook_steep', 3.0, 1): (1, 0.0),
    ('hook_steep', 3.0, 2): (2, 0.8511996337213086),
    ('hook_steep', 3.0, 3): (3, 1.0435205739590285),
    ('hook_steep', 3.0, 5): (5, 1.0133945339792427),
    ('hook_steep', 30.0, 1): (1, 0.0),
    ('hook_steep', 30.0, 2): (2, 2.450612568490005),
    ('hook_steep', 30.0, 3): (3, 1.2769458905189173),
    ('hook_steep', 30.0, 5): (5, 1.0635290971005462),
    ('jump', 0.05, 1): (1, 0.05),
    ('jump', 0.05, 2): (1, 0.05),
    ('jump', 0.05, 3): (1, 0.05),
    ('jump', 0.05, 5): (1, 0.05),
    ('jump', 0.3, 1): (1, 0.3),
    ('jump', 0.3, 2): (1, 0.3),
    ('jump', 0.3, 3): (1, 0.3),
    ('jump', 0.3, 5): (1, 0.3),
    ('jump', 1.0, 1): (1, 0.0),
    ('jump', 1.0, 2): (2, 0.01712686487328119),
    ('jump', 1.0, 3): (3, 0.11541417838595308),
    ('jump', 1.0, 5): (3, 0.11541417838595308),
    ('jump', 3.0, 1): (1, 0.0),
    ('jump', 3.0, 2): (2, 0.1744812474096924),
    ('jump', 3.0, 3): (2, 0.1744812474096924),
    ('jump', 3.0, 5): (2, 0.1744812474096924),
    ('jump', 30.0, 1): (1, 30.0),
    ('jump', 30.0, 2): (2, 30.0),
    ('jump', 30.0, 3): (3, 30.0),
    ('jump', 30.0, 5): (5, 30.0),
    ('jump_far', 0.05, 1): (1, 0.05),
    ('jump_far', 0.05, 2): (2, 0.5),
    ('jump_far', 0.05, 3): (2, 0.5),
    ('jump_far', 0.05, 5): (2, 0.5),
    ('jump_far', 0.3, 1): (1, 0.3),
    ('jump_far', 0.3, 2): (2, 0.3),
    ('jump_far', 0.3, 3): (3, 0.42691548309555527),
    ('jump_far', 0.3, 5): (4, 0.6842239347859997),
    ('jump_far', 1.0, 1): (1, 1.0),
    ('jump_far', 1.0, 2): (1, 1.0),
    ('jump_far', 1.0, 3): (1, 1.0),
    ('jump_far', 1.0, 5): (1, 1.0),
    ('jump_far', 3.0, 1): (1, 0.0),
    ('jump_far', 3.0, 2): (2, 0.16693991788399298),
    ('jump_far', 3.0, 3): (3, 0.4502459260955937),
    ('jump_far', 3.0, 5): (4, 0.5597314318608189),
    ('jump_far', 30.0, 1): (1, 30.0),
    ('jump_far', 30.0, 2): (1, 30.0),
    ('jump_far', 30.0, 3): (1, 30.0),
    ('jump_far', 30.0, 5): (1, 30.0),
    ('kink', 0.05, 1): (1, 0.05),
    ('kink', 0.05, 2): (2, 0.5),
    ('kink', 0.05, 3): (2, 0.5),
    ('kink', 0.05, 5): (2, 0.5),
    ('kink', 0.3, 1): (1, 0.3),
    ('kink', 0.3, 2): (2, 0.3),
    ('kink', 0.3, 3): (3, 0.8209952685355528),
    ('kink', 0.3, 5): (3, 0.8209952685355528),
    ('kink', 1.0, 1): (1, 1.0),
    ('kink', 1.0, 2): (1, 1.0),
    ('kink', 1.0, 3): (1, 1.0),
    ('kink', 1.0, 5): (1, 1.0),
    ('kink', 3.0, 1): (1, 0.0),
    ('kink', 3.0, 2): (2, 0.7292464279174422),
    ('kink', 3.0, 3): (2, 0.7292464279174422),
    ('kink', 3.0, 5): (2, 0.7292464279174422),
    ('kink', 30.0, 1): (1, 0.0),
    ('kink', 30.0, 2): (2, 0.0),
    ('kink', 30.0, 3): (3, 0.7753349435337551),
    ('kink', 30.0, 5): (3, 0.7753349435337551),
    ('narrow_well', 0.05, 1): (1, 0.05),
    ('narrow_well', 0.05, 2): (2, 0.5),
    ('narrow_well', 0.05, 3): (3, 2.0188350618515765),
    ('narrow_well', 0.05, 5): (3, 2.0188350618515765),
    ('narrow_well', 0.3, 1): (1, 0.3),
    ('narrow_well', 0.3, 2): (2, 1.7108184301674714),
    ('narrow_well', 0.3, 3): (2, 1.7108184301674714),
    ('narrow_well', 0.3, 5): (2, 1.7108184301674714),
    ('narrow_well', 1.0, 1): (1, 1.0),
    ('narrow_well', 1.0, 2): (2, 2.5793371624195096),
    ('narrow_well', 1.0, 3): (2, 2.5793371624195096),
    ('narrow_well', 1.0, 5): (2, 2.5793371624195096),
    ('narrow_well', 3.0, 1): (1, 3.0),
    ('narrow_well', 3.0, 2): (1, 3.0),
    ('narrow_well', 3.0, 3): (1, 3.0),
    ('narrow_well', 3.0, 5): (1, 3.0),
    ('narrow_well', 30.0, 1): (1, 0.0),
    ('narrow_well', 30.0, 2): (2, 5.482103516110701),
    ('narrow_well', 30.0, 3): (2, 5.482103516110701),
    ('narrow_well', 30.0, 5): (2, 5.482103516110701),
    ('plateau', 0.05, 1): (1, 0.05),
    ('plateau', 0.05, 2): (2, 0.0505),
    ('plateau', 0.05, 3): (3, 0.050505),
    ('plateau', 0.05, 5): (5, 0.0505),
    ('plateau', 0.3, 1): (1, 0.3),
    ('plateau', 0.3, 2): (2, 0.31936208565085417),
    ('plateau', 0.3, 3): (3, 0.3195557065073627),
    ('plateau', 0.3, 5): (5, 0.31936208565085417),
    ('plateau', 1.0, 1): (1, 1.0),
    ('plateau', 1.0, 2): (1, 1.0),
    ('plateau', 1.0, 3): (1, 1.0),
    ('plateau', 1.0, 5): (1, 1.0),
    ('plateau', 3.0, 1): (1, 3.0),
    ('plateau', 3.0, 2): (1, 3.0),
    ('plateau', 3.0, 3): (1, 3.0),
    ('plateau', 3.0, 5): (1, 3.0),
    ('plateau', 30.0, 1): (1, 30.0),
    ('plateau', 30.0, 2): (2, 17.73419331297086),
    ('plateau', 30.0, 3): (3, 17.73419331297086),
    ('plateau', 30.0, 5): (5, 17.73419331297086),
    ('quad', 0.05, 1): (1, 0.05),
    ('quad', 0.05, 2): (1, 0.05),
    ('quad', 0.05, 3): (1, 0.05),
    ('quad', 0.05, 5): (1, 0.05),
    ('quad', 0.3, 1): (1, 0.3),
    ('quad', 0.3, 2): (1, 0.3),
    ('quad', 0.3, 3): (1, 0.3),
    ('quad', 0.3, 5): (1, 0.3),
    ('quad', 1.0, 1): (1, 0.0),
    ('quad', 1.0, 2): (2, 0.5),
    ('quad', 1.0, 3): (2, 0.5),
    ('quad', 1.0, 5): (2, 0.5),
    ('quad', 3.0, 1): (1, 0.0),
    ('quad', 3.0, 2): (2, 0.5),
    ('quad', 3.0, 3): (2, 0.5),
    ('quad', 3.0, 5): (2, 0.5),
    ('quad', 30.0, 1): (1, 0.0),
    ('quad', 30.0, 2): (2, 0.5),
    ('quad', 30.0, 3): (2, 0.5),
    ('quad', 30.0, 5): (2, 0.5),
    ('quartic_far', 0.05, 1): (1, 0.0),
    ('quartic_far', 0.05, 2): (2, 0.02393739978953262),
    ('quartic_far', 0.05, 3): (2, 0.02393739978953262),
    ('quartic_far', 0.05, 5): (2, 0.02393739978953262),
    ('quartic_far', 0.3, 1): (1, 0.0),
    ('quartic_far', 0.3, 2): (2, 0.0),
    ('quartic_far', 0.3, 3): (3, 0.0),
    ('quartic_far', 0.3, 5): (4, 0.022129011397341154),
    ('quartic_far', 1.0, 1): (1, 0.0),
    ('quartic_far', 1.0, 2): (2, 0.0),
    ('quartic_far', 1.0, 3): (3, 0.0),
    ('quartic_far', 1.0, 5): (5, 0.024190927708870564),
    ('quartic_far', 3.0, 1): (1, 0.0),
    ('quartic_far', 3.0, 2): (2, 0.0),
    ('quartic_far', 3.0, 3): (3, 0.0),
    ('quartic_far', 3.0, 5): (5, 0.0),
    ('quartic_far', 30.0, 1): (1, 0.0),
    ('quartic_far', 30.0, 2): (2, 0.0),
    ('quartic_far', 30.0, 3): (3, 0.0),
    ('quartic_far', 30.0, 5): (5, 0.0),
    ('ripples', 0.05, 1): (1, 0.05),
    ('ripples', 0.05, 2): (2, 0.055118091627570566),
    ('ripples', 0.05, 3): (2, 0.055118091627570566),
    ('ripples', 0.05, 5): (2, 0.055118091627570566),
    ('ripples', 0.3, 1): (1, 0.3),
    ('ripples', 0.3, 2): (2, 0.3),
    ('ripples', 0.3, 3): (3, 0.2856435900792737),
    ('ripples', 0.3, 5): (4, 0.2816345295166571),
    ('ripples', 1.0, 1): (1, 0.0),
    ('ripples', 1.0, 2): (2, 0.5372093918322953),
    ('ripples', 1.0, 3): (3, 0.34393274179527594),
    ('ripples', 1.0, 5): (5, 0.35958154525845276),
    ('ripples', 3.0, 1): (1, 0.0),
    ('ripples', 3.0, 2): (2, 0.3145071343305679),
    ('ripples', 3.0, 3): (3, 0.3145071343305679),
    ('ripples', 3.0, 5): (5, 0.2831232338676796),
    ('ripples', 30.0, 1): (1, 0.0),
    ('ripples', 30.0, 2): (2, 0.43589060995622475),
    ('ripples', 30.0, 3): (3, 0.2787815010135172),
    ('ripples', 30.0, 5): (3, 0.2787815010135172),
    ('rosen_line', 0.05, 1): (1, 0.0),
    ('rosen_line', 0.05, 2): (2, 0.0),
    ('rosen_line', 0.05, 3): (3, 0.0),
    ('rosen_line', 0.05, 5): (4, 0.004547720765043046),
    ('rosen_line', 0.3, 1): (1, 0.0),
    ('rosen_line', 0.3, 2): (2, 0.0),
    ('rosen_line', 0.3, 3): (3, 0.0),
    ('rosen_line', 0.3, 5): (5, 0.007391629884249121),
    ('rosen_line', 1.0, 1): (1, 0.0),
    ('rosen_line', 1.0, 2): (2, 0.0),
    ('rosen_line', 1.0, 3): (3, 0.0),
    ('rosen_line', 1.0, 5): (5, 0.0),
    ('rosen_line', 3.0, 1): (1, 0.0),
    ('rosen_line', 3.0, 2): (2, 0.0),
    ('rosen_line', 3.0, 3): (3, 0.0),
    ('rosen_line', 3.0, 5): (5, 0.0),
    ('rosen_line', 30.0, 1): (1, 0.0),
    ('rosen_line', 30.0, 2): (2, 0.0),
    ('rosen_line', 30.0, 3): (3, 0.0),
    ('rosen_line', 30.0, 5): (5, 0.0),
    ('smooth_abs', 0.05, 1): (1, 0.05),
    ('smooth_abs', 0.05, 2): (2, 0.5),
    ('smooth_abs', 0.05, 3): (3, 0.5),
    ('smooth_abs', 0.05, 5): (5, 1.0320164298000718),
    ('smooth_abs', 0.3, 1): (1, 0.3),
    ('smooth_abs', 0.3, 2): (2, 0.3),
    ('smooth_abs', 0.3, 3): (3, 0.9426888533423083),
    ('smooth_abs', 0.3, 5): (5, 1.0028323832851305),
    ('smooth_abs', 1.0, 1): (1, 1.0),
    ('smooth_abs', 1.0, 2): (1, 1.0),
    ('smooth_abs', 1.0, 3): (1, 1.0),
    ('smooth_abs', 1.0, 5): (1, 1.0),
    ('smooth_abs', 3.0, 1): (1, 0.0),
    ('smooth_abs', 3.0, 2): (2, 0.8787256719110124),
    ('smooth_abs', 3.0, 3): (3, 0.8787256719110124),
    ('smooth_abs', 3.0, 5): (4, 0.9864425990828176),
    ('smooth_abs', 30.0, 1): (1, 0.0),
    ('smooth_abs', 30.0, 2): (2, 0.0),
    ('smooth_abs', 30.0, 3): (3, 0.9690397322314785),
    ('smooth_abs', 30.0, 5): (5, 0.9690397322314785),
    ('stairs', 0.05, 1): (1, 0.0),
    ('stairs', 0.05, 2): (2, 0.0),
    ('stairs', 0.05, 3): (3, 0.0),
    ('stairs', 0.05, 5): (5, 0.0),
    ('stairs', 0.3, 1): (1, 0.3),
    ('stairs', 0.3, 2): (2, 1.6515),
    ('stairs', 0.3, 3): (3, 1.6515),
    ('stairs', 0.3, 5): (4, 1.5137850554771397),
    ('stairs', 1.0, 1): (1, 1.0),
    ('stairs', 1.0, 2): (1, 1.0),
    ('stairs', 1.0, 3): (1, 1.0),
    ('stairs', 1.0, 5): (1, 1.0),
    ('stairs', 3.0, 1): (1, 0.0),
    ('stairs', 3.0, 2): (2, 0.5689945429222458),
    ('stairs', 3.0, 3): (3, 0.8178178636491222),
    ('stairs', 3.0, 5): (5, 0.8178178636491222),
    ('stairs', 30.0, 1): (1, 0.0),
    ('stairs', 30.0, 2): (2, 1.121467174715633),
    ('stairs', 30.0, 3): (2, 1.121467174715633),
    ('stairs', 30.0, 5): (2, 1.121467174715633),
    ('tanh_step', 0.05, 1): (1, 0.05),
    ('tanh_step', 0.05, 2): (2, 0.5),
    ('tanh_step', 0.05, 3): (3, 5.0),
    ('tanh_step', 0.05, 5): (5, 23.82791889329392),
    ('tanh_step', 0.3, 1): (1, 0.3),
    ('tanh_step', 0.3, 2): (2, 3.0),
    ('tanh_step', 0.3, 3): (3, 8.242233512416208),
    ('tanh_step', 0.3, 5): (5, 40.587359024472086),
    ('tanh_step', 1.0, 1): (1, 1.0),
    ('tanh_step', 1.0, 2): (2, 5.940656596630524),
    ('tanh_step', 1.0, 3): (3, 12.142650284943066),
    ('tanh_step', 1.0, 5): (5, 54.21988396131657),
    ('tanh_step', 3.0, 1): (1, 3.0),
    ('tanh_step', 3.0, 2): (2, 7.951223241997534),
    ('tanh_step', 3.0, 3): (3, 17.07856602499587),
    ('tanh_step', 3.0, 5): (5, 56.15896341044582),
    ('tanh_step', 30.0, 1): (1, 30.0),
    ('tanh_step', 30.0, 2): (2, 36.28343619496659),
    ('tanh_step', 30.0, 3): (3, 56.23187707463213),
    ('tanh_step', 30.0, 5): (3, 56.23187707463213),
    ('wall', 0.05, 1): (1, 0.05),
    ('wall', 0.05, 2): (1, 0.05),
    ('wall', 0.05, 3): (1, 0.05),
    ('wall', 0.05, 5): (1, 0.05),
    ('wall', 0.3, 1): (1, 0.3),
    ('wall', 0.3, 2): (1, 0.3),
    ('wall', 0.3, 3): (1, 0.3),
    ('wall', 0.3, 5): (1, 0.3),
    ('wall', 1.0, 1): (1, 0.0),
    ('wall', 1.0, 2): (2, 0.1294815004395914),
    ('wall', 1.0, 3): (2, 0.1294815004395914),
    ('wall', 1.0, 5): (2, 0.1294815004395914),
    ('wall', 3.0, 1): (1, 0.0),
    ('wall', 3.0, 2): (2, 0.0),
    ('wall', 3.0, 3): (3, 0.11518580442153392),
    ('wall', 3.0, 5): (3, 0.11518580442153392),
    ('wall', 30.0, 1): (1, 0.0),
    ('wall', 30.0, 2): (2, 0.0),
    ('wall', 30.0, 3): (3, 0.0),
    ('wall', 30.0, 5): (5, 0.0),
    ('wiggle', 0.05, 1): (1, 0.05),
    ('wiggle', 0.05, 2): (2, 0.5),
    ('wiggle', 0.05, 3): (3, 0.608387681602045),
    ('wiggle', 0.05, 5): (3, 0.608387681602045),
    ('wiggle', 0.3, 1): (1, 0.3),
    ('wiggle', 0.3, 2): (2, 0.6905901401888968),
    ('wiggle', 0.3, 3): (3, 0.6269397730034638),
    ('wiggle', 0.3, 5): (3, 0.6269397730034638),
    ('wiggle', 1.0, 1): (1, 1.0),
    ('wiggle', 1.0, 2): (2, 0.6967526476979335),
    ('wiggle', 1.0, 3): (3, 0.632714793031032),
    ('wiggle', 1.0, 5): (3, 0.632714793031032),
    ('wiggle', 3.0, 1): (1, 0.0),
    ('wiggle', 3.0, 2): (2, 0.21461200710876316),
    ('wiggle', 3.0, 3): (3, 0.6988618008977201),
    ('wiggle', 3.0, 5): (4, 0.6309582125414424),
    ('wiggle', 30.0, 1): (1, 0.0),
    ('wiggle', 30.0, 2): (2, 0.5850990100946021),
    ('wiggle', 30.0, 3): (3, 0.5850990100946021),
    ('wiggle', 30.0, 5): (5, 0.6120703689327047),
}


@pytest.mark.parametrize("key", sorted(LINE_BUDGET))
def test_line_search_within_its_budget(key):
    name, t0, max_evals = key
    f, g, x0 = SWEEP.get(name) or NONSMOOTH[name]
    d = -g(x0, math)
    tried, t, new = _line(lambda x: f(x, math), lambda x: g(x, math), x0, d, t0, max_evals)
    n, step = LINE_BUDGET[key]
    assert len(tried) == n <= max_evals and t == pytest.approx(step, rel=1e-12, abs=0.0)
    if t == 0.0:  # no step: no trial point lowered the cost
        assert new is None and min(f(x, math) for x in tried) >= f(x0, math)
    else:  # the step's own evaluation, a lower cost
        assert new[-1] == pytest.approx(x0 + t * d, rel=1e-12) and new[0] < f(x0, math) and new[-1] in tried


# exact ties at the zoom's bounds, on lines given by their costs and slopes at the points tried (x0 = 0 and
# d = 1, so a trial point is its step): each case's trial steps pinned, and torch's where it is installed
def _tie_tol_change(x):  # the bracket [0, 1e-9] is exactly tol_change wide (times max|d| = 1): zoom once more
    return (0.0, -1.0) if x == 0.0 else ((1e-13, 1.0) if x == 1e-9 else (-x, -1.0))


def _tie_ten_percent(x):  # the first zoom step is exactly 10% of the bracket [0, 10] from its end 0
    return {0.0: (0.0, -3.0), 10.0: (35.0, 0.0), 1.0: (-19.0, -4.0)}.get(x, (100.0, 50.0))


def _clip_onto_low_end(x):  # the third zoom step is clipped onto the low end of its bracket, on a first try
    return (0.0, -1.0) if x == 0.0 else ((-1.0, 0.5) if x < 0.9 else ((5.0, 2.0) if x < 1.0 else (-1.0, 2.0)))


ZOOM_TIES = {  # name: (line, t0, max_evals, the trial steps, the step returned)
    # |b − a|·max|d| = tol_change is not below it: the zoom goes on (one more point, a lower cost)
    "bracket_width_is_tol_change": (_tie_tol_change, 1e-9, 10, [1e-9, 4.999250000016876e-10], 4.999250000016876e-10),
    # the cubic step t = 1 is exactly eps = 0.1·10 from the end 0, not closer: taken as it is (no safeguard
    # armed), so the next step, 1.75, within 10% of the end 1, is taken too (an armed one moves it to 1.9)
    "step_exactly_ten_percent_in": (_tie_ten_percent, 10.0, 3, [10.0, 1.0, 1.75], 1.0),
    # bracket [0.8047…, 0.9425…] with rising costs and slopes: the cubic's minimiser lies below it, clipped
    # onto 0.8047…, which is moved 10% inside (not evaluated a second time)
    "cubic_clipped_onto_the_low_end": (_clip_onto_low_end, 1.0, 4,
                                       [1.0, 0.804737854124365, 0.9424962833969261, 0.8185136970516211],
                                       0.804737854124365),
}


@pytest.mark.parametrize("name", sorted(ZOOM_TIES))
def test_line_search_zoom_at_its_exact_ties(name):
    line, t0, max_evals, steps, step = ZOOM_TIES[name]
    tried, t, new = _line(lambda x: line(x)[0], lambda x: line(x)[1], 0.0, 1.0, t0, max_evals)
    assert tried == pytest.approx(steps, rel=1e-14, abs=0.0) and t == pytest.approx(step, rel=1e-14, abs=0.0)
    assert new[-1] == t and new[0] == line(t)[0] < 0.0
    try:
        import torch
        from torch.optim.lbfgs import _strong_wolfe as torch_strong_wolfe
    except ImportError:  # pragma: no cover - torch is in the test extras
        return
    theirs = []

    def torch_objective(x, s, direction):
        point = float((x + s * direction)[0])
        theirs.append(point)
        return line(point)[0], torch.tensor([line(point)[1]], dtype=torch.float64)

    one = torch.tensor([1.0], dtype=torch.float64)
    torch_strong_wolfe(torch_objective, torch.zeros(1, dtype=torch.float64), t0, one, line(0.0)[0],
                       one * line(0.0)[1], line(0.0)[1], max_ls=max_evals)
    assert tried == pytest.approx(theirs[:len(tried)], rel=1e-14, abs=0.0)  # torch's max_ls may take one more
