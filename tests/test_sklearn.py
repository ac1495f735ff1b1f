"""bpx.sklearn: scikit-learn's own estimator checks, parameter validation, agreement with
sklearn.neural_network, outputs that follow the input's namespace and device, accuracy on digits,
partial_fit, pickling, clone, GridSearchCV and Pipeline, all on the session backend."""

from __future__ import annotations

import math
import os
import pickle
import warnings

import array_api_compat
import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import neural_network  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits, load_iris  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import bpx  # noqa: E402
from bpx.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

SPEC = os.environ.get("BPX_BACKEND", "numpy")


def _session_backend():
    try:
        return bpx.get_backend(SPEC)
    except ValueError:
        return None


def _check_estimators():
    small = dict(hidden_layer_sizes=(16,), max_iter=20, learning_rate_init=0.01, random_state=0, backend=SPEC)
    return [MLPClassifier(**small), MLPRegressor(**small)]


def _expected_failed_checks(estimator):
    backend = _session_backend()
    failed = {}
    if backend is not None and not backend.has_dtype("float64"):
        # impossible by design: this device has no float64, so the network computes (and predicts) in float32,
        # and float32 rounding (~4e-7 relative) exceeds these checks' float64 tolerance (rtol 1e-7)
        why = "the backend's device has no float64: weighted and repeated-row fits agree to float32 rounding only"
        failed = {"check_sample_weight_equivalence_on_dense_data": why,
                  "check_sample_weight_equivalence_on_sparse_data": why}
        if isinstance(estimator, MLPRegressor):
            failed["check_regressor_multioutput"] = "the backend's device has no float64; predictions are float32"
    return failed


def _listed(decorator):
    """The same parametrize with its cases in a list: scikit-learn 1.7 (the newest on Python 3.10) hands
    pytest a generator, which pytest >= 9 refuses."""
    names, cases = decorator.mark.args
    return pytest.mark.parametrize(names, list(cases), **decorator.mark.kwargs)


@pytest.mark.skipif(_session_backend() is None, reason=f"backend {SPEC!r} cannot run here")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # max_iter is kept small on purpose
@_listed(parametrize_with_checks(_check_estimators(), expected_failed_checks=_expected_failed_checks))
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# -- data -------------------------------------------------------------------------------------------
def _blobs(n=60, n_features=4, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(n_classes, n_features))
    y = np.arange(n) % n_classes
    return centers[y] + rng.normal(size=(n, n_features)), y


def _fast(**kw):
    base = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    base.update(kw)
    return base


def _quiet_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


# -- parameters -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params, name",
    [
        ({"hidden_layer_sizes": (2.5,)}, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": (10, -1)}, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": "10"}, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": (True,)}, "hidden_layer_sizes"),
        ({"activation": "softmax"}, "activation"),
        ({"solver": "rmsprop"}, "solver"),
        ({"alpha": -1.0}, "alpha"),
        ({"alpha": float("nan")}, "alpha"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": "big"}, "batch_size"),
        ({"learning_rate": "cyclic"}, "learning_rate"),
        ({"learning_rate_init": 0.0}, "learning_rate_init"),
        ({"power_t": -0.5}, "power_t"),
        ({"max_iter": 0}, "max_iter"),
        ({"max_iter": 2.0}, "max_iter"),
        ({"shuffle": "yes"}, "shuffle"),
        ({"random_state": "seed"}, "random_state"),
        ({"tol": -1e-3}, "tol"),
        ({"momentum": 1.5}, "momentum"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"beta_1": 1.0}, "beta_1"),
        ({"beta_2": -0.1}, "beta_2"),
        ({"epsilon": 0.0}, "epsilon"),
        ({"n_iter_no_change": 0}, "n_iter_no_change"),
        ({"n_iter_no_change": 2.5}, "n_iter_no_change"),
        ({"max_fun": 0}, "max_fun"),
        ({"backend": 3}, "backend"),
        ({"dtype": "float16"}, "dtype"),
    ],
)
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_bad_parameters_raise_value_error_naming_them(cls, params, name, to_input, backend):
    X, y = _blobs(n=12)
    est = cls(**_fast(**{"backend": backend.spec, **params}))
    with pytest.raises(ValueError, match=name):
        est.fit(to_input(X), y)
    assert not hasattr(est, "n_iter_") and not hasattr(est, "classes_")  # refused before any work


def _count_sklearn_evaluations(monkeypatch, cls):
    calls = []
    original = cls._loss_grad_lbfgs

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "_loss_grad_lbfgs", counting)
    return calls


def _lbfgs_cases():
    from sklearn.datasets import make_regression
    from sklearn.preprocessing import MinMaxScaler, scale

    Xi, yi = load_iris(return_X_y=True)
    Xi = StandardScaler().fit_transform(Xi)
    Xd, yd = load_digits(n_class=3, return_X_y=True)
    Xd, yd = MinMaxScaler().fit_transform(Xd[:200]), yd[:200]
    Xr, yr = make_regression(n_samples=200, n_features=10, bias=20.0, noise=100.0, random_state=7)
    return {"iris": ("C", Xi, yi, dict(hidden_layer_sizes=(5,), alpha=1.0, activation="tanh")),
            "digits": ("C", Xd, yd, dict(hidden_layer_sizes=(20,), alpha=1.0, activation="logistic")),
            "regression": ("R", Xr, scale(yr), dict(hidden_layer_sizes=(20,), alpha=1.0, activation="tanh"))}


@pytest.mark.parametrize("case", ["iris", "digits", "regression"])
def test_lbfgs_matches_sklearn(backend, to_input, monkeypatch, case):
    """solver='lbfgs' against scikit-learn's (SciPy's L-BFGS-B) on its own small data sets, from the same
    initial weights: the same final loss within 1%, a comparable number of cost evaluations."""
    kind, X, y, kw = _lbfgs_cases()[case]
    kw = dict(solver="lbfgs", max_iter=500, random_state=0, **kw)
    ref_cls = neural_network.MLPClassifier if kind == "C" else neural_network.MLPRegressor
    calls = _count_sklearn_evaluations(monkeypatch, ref_cls)
    ref = _quiet_fit(ref_cls(**kw), X, y)
    ours = _quiet_fit((MLPClassifier if kind == "C" else MLPRegressor)(backend=backend.spec, **kw), to_input(X), y)
    float32 = ours._net.dtype == "float32"
    assert ours.loss_ == pytest.approx(ref.loss_, rel=0.02 if float32 else 0.01)
    assert 0.5 * len(calls) <= ours._n_fun <= 1.5 * len(calls) + 10
    assert ours.n_iter_ <= ours._n_fun and ours.t_ == 0 and not hasattr(ours, "_optimizer")
    assert ours.score(to_input(X), y) == pytest.approx(ref.score(X, y), abs=0.03)


def test_lbfgs_limits_warn_and_partial_fit_is_not_offered(backend):
    X, y = _blobs(n=40)
    est = MLPClassifier(solver="lbfgs", hidden_layer_sizes=(8,), max_iter=3, random_state=0, backend=backend.spec)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge after 3 iteration"):
        est.fit(X, y)
    assert est.n_iter_ == 3
    est = MLPClassifier(solver="lbfgs", hidden_layer_sizes=(8,), max_fun=5, tol=0.0, random_state=0,
                        backend=backend.spec)
    with pytest.warns(ConvergenceWarning, match="max_fun=5"):
        est.fit(X, y)
    assert est._n_fun <= 5
    assert not hasattr(est, "partial_fit") and hasattr(MLPRegressor(solver="sgd"), "partial_fit")


def test_sample_weight(backend, to_input):
    """Integer weights equal repeated rows (full batch, so the epochs see the same batches); ones equal
    no weights; the weighted validation split keeps scikit-learn's indices."""
    X, y = _blobs(n=30)
    counts = 1 + np.arange(30) % 3
    rows = np.repeat(np.arange(30), counts)
    for solver in ("lbfgs", "sgd"):
        kw = _fast(solver=solver, max_iter=20, alpha=0.0, backend=backend.spec)  # batch_size 'auto': full batches
        weighted = MLPClassifier(**kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            weighted.fit(to_input(X), y, sample_weight=counts)
        repeated = _quiet_fit(MLPClassifier(**kw), to_input(X[rows]), y[rows])
        np.testing.assert_allclose(bpx.to_numpy(weighted.predict_proba(to_input(X))),
                                   bpx.to_numpy(repeated.predict_proba(to_input(X))), rtol=1e-4, atol=1e-5)
    kw = _fast(early_stopping=True, batch_size=10, max_iter=10, backend=backend.spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ones = MLPRegressor(**kw).fit(X, X[:, 0], sample_weight=np.ones(30))
    plain = _quiet_fit(MLPRegressor(**kw), X, X[:, 0])
    rtol = 1e-4 if ones._net.dtype == "float32" else 1e-10  # ω = 1/m multiplies where the mean divides by m
    np.testing.assert_allclose(bpx.to_numpy(ones.predict(X)), bpx.to_numpy(plain.predict(X)), rtol=rtol)


def test_poisson_regressor_matches_sklearn(backend, to_input):
    rng = np.random.default_rng(0)
    X = rng.uniform(0.0, 1.0, (100, 1))
    y = rng.poisson(np.exp(X[:, 0] + 1.0))
    kw = dict(loss="poisson", hidden_layer_sizes=(1,), activation="identity", alpha=0.0, solver="lbfgs", tol=1e-7,
              random_state=1)
    ref = neural_network.MLPRegressor(**kw).fit(X, y)
    ours = MLPRegressor(backend=backend.spec, **kw)
    if backend.has_dtype("float64"):
        ours.fit(to_input(X), y)  # float64 converges to tol=1e-7: a ConvergenceWarning here is a failure
    else:
        # float32 L-BFGS can stop at the precision limit ("the line search found no lower cost") before
        # tol=1e-7, and where depends on the BLAS kernel (SkylakeX kernels stop after 10 iterations, Haswell
        # converges): what is robust is that the fit agrees with scikit-learn's to the tolerance below.
        _quiet_fit(ours, to_input(X), y)
    assert ours.out_activation_ == "exp" == ref.out_activation_
    rtol = 1e-3 if ours._net.dtype == "float32" else 1e-4
    np.testing.assert_allclose(bpx.to_numpy(ours.predict(to_input(X))), ref.predict(X), rtol=rtol)
    with pytest.raises(ValueError, match="negative"):
        MLPRegressor(loss="poisson", backend=backend.spec).fit(X, y - 10.0)


def test_assigned_coefs_are_used(backend):
    """coefs_/intercepts_ assigned by hand (scikit-learn's worked example) are what training starts from."""
    X, y = _blobs(n=20)
    clf = _quiet_fit(MLPClassifier(**_fast(backend=backend.spec)), X, y)
    zeros = [np.zeros_like(c) for c in clf.coefs_]
    clf.coefs_ = zeros
    clf.intercepts_ = [np.zeros_like(b) for b in clf.intercepts_]
    proba = bpx.to_numpy(clf.predict_proba(X))
    np.testing.assert_allclose(proba, np.full_like(proba, 1.0 / proba.shape[1]), rtol=1e-6)
    assert np.all(clf.coefs_[0] == 0.0)
    with pytest.raises(ValueError, match="shape"):
        clf.coefs_ = [np.zeros((2, 2))] + zeros[1:]
        clf.predict(X)


def test_divergence_is_scikit_learns(backend):
    """A diverging fit: scikit-learn's ValueError without early stopping (the model keeps the last finite
    epoch's weights, where scikit-learn's hold NaN); with early stopping a NaN validation score and the best weights restored."""
    X, y = load_iris(return_X_y=True)
    kw = dict(hidden_layer_sizes=(100,), activation="identity", solver="sgd", learning_rate_init=1.0, max_iter=20,
              random_state=0, backend=backend.spec)
    est = MLPRegressor(**kw)
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
        est.fit(X, y)
    assert all(np.all(np.isfinite(c)) for c in est.coefs_)  # the last finite epoch's weights (huge, but finite)
    est = _quiet_fit(MLPRegressor(early_stopping=True, **kw), X, y)
    assert math.isnan(est.validation_scores_[-1])
    assert all(np.all(np.isfinite(c)) for c in est.coefs_)


def test_unfitted_and_wrong_width(backend, to_input):
    X, y = _blobs(n=12)
    with pytest.raises(NotFittedError):
        MLPClassifier(backend=backend.spec).predict(X)
    est = _quiet_fit(MLPClassifier(**_fast(backend=backend.spec)), to_input(X), y)
    with pytest.raises(ValueError, match="4"):
        est.predict(to_input(X[:, :3]))
    with pytest.raises(ValueError, match="4"):
        est.predict(X[:, :3])


# -- agreement with sklearn.neural_network -----------------------------------------------------------
@pytest.mark.parametrize("learning_rate", ["constant", "invscaling"])
@pytest.mark.parametrize("cls", ["MLPClassifier", "MLPRegressor"])
def test_full_batch_sgd_matches_sklearn(cls, learning_rate, backend, float64, to_input):
    """Same initial weights (same random_state), full-batch SGD, L2 and lr schedule: the same numbers."""
    X, y = _blobs(n=40)
    if cls == "MLPRegressor":
        y = X @ np.array([1.0, -2.0, 0.5, 3.0]) / 4.0
    kw = dict(hidden_layer_sizes=(7, 5), activation="tanh", solver="sgd", momentum=0.0, batch_size=40, alpha=0.01,
              learning_rate=learning_rate, learning_rate_init=0.05, max_iter=6, random_state=3, shuffle=False)
    ours = _quiet_fit(getattr(bpx.sklearn, cls)(backend=backend.spec, dtype=float64, **kw), to_input(X), y)
    ref = _quiet_fit(getattr(neural_network, cls)(**kw), X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
    assert (ours.n_iter_, ours.t_, ours.n_layers_, ours.n_outputs_, ours.out_activation_) == (
        ref.n_iter_, ref.t_, ref.n_layers_, ref.n_outputs_, ref.out_activation_)



@pytest.mark.parametrize("learning_rate", ["invscaling", "adaptive"])
@pytest.mark.parametrize("nesterov", [False, True])
def test_minibatch_lr_schedules_match_sklearn_step_for_step(learning_rate, nesterov, backend, float64, to_input):
    """invscaling (lr = init / (t + 1)^power_t after each epoch, t the samples seen) and adaptive (lr / 5 once
    the loss has not improved by tol for more than n_iter_no_change epochs) with momentum on mini-batches:
    scikit-learn's weights, loss curve and final learning rate. (alpha=0: with a penalty and several batches an
    epoch, bpx.sklearn's loss_curve_ adds the L2 term of the epoch's starting weights to every batch where
    scikit-learn adds each batch's; the weights agree either way, the reported loss differs slightly.)"""
    X, y = _blobs(n=40)
    kw = dict(hidden_layer_sizes=(6,), activation="relu", solver="sgd", momentum=0.9, nesterovs_momentum=nesterov,
              batch_size=10, alpha=0.0, learning_rate=learning_rate, learning_rate_init=0.05, power_t=0.3,
              tol=0.05, n_iter_no_change=1, max_iter=15, random_state=1, shuffle=False)
    ours = _quiet_fit(bpx.sklearn.MLPClassifier(backend=backend.spec, dtype=float64, **kw), to_input(X), y)
    ref = _quiet_fit(neural_network.MLPClassifier(**kw), X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
    assert ours.n_iter_ == ref.n_iter_ and ours.t_ == ref.t_
    assert ours._optimizer.lr == pytest.approx(ref._optimizer.learning_rate, rel=1e-12)
    if learning_rate == "adaptive":
        assert ref._optimizer.learning_rate < 0.05 / 5  # the rate was divided at least twice


def test_convergence_warning_when_max_iter_is_reached(backend):
    X, y = _blobs(n=12)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(2\\)"):
        MLPClassifier(**_fast(max_iter=2, backend=backend.spec)).fit(X, y)


def test_early_stopping_and_tol(backend, to_input):
    X, y = _blobs(n=60)
    est = _quiet_fit(MLPClassifier(**_fast(max_iter=40, early_stopping=True, n_iter_no_change=2, tol=0.5,
                                          backend=backend.spec)), to_input(X), y)
    assert est.best_loss_ is None
    assert len(est.validation_scores_) == est.n_iter_ < 40  # stopped: no 0.5 gain in accuracy for 3 epochs
    assert est.best_validation_score_ == max(est.validation_scores_)
    kw = _fast(max_iter=40, tol=10.0, n_iter_no_change=1)
    est = _quiet_fit(MLPClassifier(backend=backend.spec, **kw), X, y)
    # sklearn's rule: stop once the loss has not improved by tol for more than n_iter_no_change epochs
    assert est.n_iter_ == 3 == _quiet_fit(neural_network.MLPClassifier(**kw), X, y).n_iter_
    assert est.best_loss_ == min(est.loss_curve_)


# -- outputs follow the input's namespace and device -----------------------------------------------
def _where(a):
    if isinstance(a, np.ndarray):
        return "numpy", "cpu"
    return type(array_api_compat.array_namespace(a)).__name__ + array_api_compat.array_namespace(a).__name__, str(
        array_api_compat.device(a))


@pytest.mark.parametrize("est_backend", ["session", "numpy"])
def test_outputs_follow_the_input_namespace_and_device(est_backend, backend, to_input):
    X, y = _blobs(n=30)
    spec = backend.spec if est_backend == "session" else "numpy"
    clf = _quiet_fit(MLPClassifier(**_fast(backend=spec)), to_input(X), y)
    reg = _quiet_fit(MLPRegressor(**_fast(backend=spec)), to_input(X), X[:, 0])
    for data in (X, to_input(X)):
        for out in (clf.predict(data), clf.predict_proba(data), reg.predict(data)):
            assert _where(out) == _where(data)
        ref = X if data is X else np.asarray(bpx.to_numpy(data))
        np.testing.assert_array_equal(bpx.to_numpy(clf.predict(data)), clf.predict(ref))
        assert bpx.to_numpy(clf.predict_proba(data)).shape == (30, 3)
        assert bpx.to_numpy(reg.predict(data)).shape == (30,)
    assert isinstance(clf.classes_, np.ndarray)
    assert all(isinstance(W, np.ndarray) for W in clf.coefs_ + clf.intercepts_)
    assert [W.shape for W in clf.coefs_] == [(4, 8), (8, 3)]


def test_torch_input_gives_torch_output(backend):
    torch = pytest.importorskip("torch")
    X, y = _blobs(n=30)
    clf = _quiet_fit(MLPClassifier(**_fast(backend=backend.spec)), X, y)
    Xt = torch.asarray(X)
    proba, labels = clf.predict_proba(Xt), clf.predict(Xt)
    assert isinstance(proba, torch.Tensor) and proba.device == Xt.device
    assert isinstance(labels, torch.Tensor)
    np.testing.assert_allclose(proba.numpy(), clf.predict_proba(X), rtol=1e-6)


# -- targets ----------------------------------------------------------------------------------------
def test_string_binary_and_multilabel_targets(backend, to_input):
    X, y = _blobs(n=30)
    names = np.array(["cat", "dog", "emu"])[y]
    clf = _quiet_fit(MLPClassifier(**_fast(backend=backend.spec)), to_input(X), names)
    assert list(clf.classes_) == ["cat", "dog", "emu"] and clf.out_activation_ == "softmax"
    pred = clf.predict(to_input(X))
    assert isinstance(pred, np.ndarray) and set(pred) <= {"cat", "dog", "emu"}
    binary = _quiet_fit(MLPClassifier(**_fast(backend=backend.spec)), X, y % 2 == 0)
    assert binary.out_activation_ == "logistic" and binary.n_outputs_ == 1
    proba = binary.predict_proba(X)
    assert proba.shape == (30, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    multi = np.stack([y == 0, y != 1], axis=1).astype(int)
    ml = _quiet_fit(MLPClassifier(**_fast(backend=backend.spec)), X, multi)
    assert ml.predict(X).shape == (30, 2) and ml.n_outputs_ == 2 and ml.out_activation_ == "logistic"


def test_regressor_output_shapes(backend, to_input):
    X, _ = _blobs(n=30)
    one = _quiet_fit(MLPRegressor(**_fast(backend=backend.spec)), to_input(X), X[:, 0])
    two = _quiet_fit(MLPRegressor(**_fast(backend=backend.spec)), to_input(X), X[:, :2])
    assert bpx.to_numpy(one.predict(to_input(X))).shape == (30,)
    assert bpx.to_numpy(two.predict(to_input(X))).shape == (30, 2)
    assert one.out_activation_ == "identity"


# -- the real thing ---------------------------------------------------------------------------------
def test_digits_accuracy(backend, to_input):
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    clf = _quiet_fit(MLPClassifier(hidden_layer_sizes=(64,), learning_rate_init=0.01, max_iter=15, random_state=0,
                                   dtype="float32", backend=backend.spec), to_input(X_tr), y_tr)
    assert clf.score(to_input(X_te), y_te) >= 0.95
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_partial_fit(backend, to_input):
    X, y = _blobs(n=60)
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier(backend=backend.spec).partial_fit(X, y)
    clf = MLPClassifier(**_fast(learning_rate_init=0.05, backend=backend.spec))
    for _ in range(10):
        clf.partial_fit(to_input(X), y, classes=[0, 1, 2, 3])
    assert (clf.n_iter_, clf.t_) == (1, 600) and list(clf.classes_) == [0, 1, 2, 3]  # scikit-learn's counts
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X, y + 5)
    reg = MLPRegressor(**_fast(learning_rate_init=0.05, backend=backend.spec))
    for _ in range(10):
        reg.partial_fit(to_input(X), X[:, 0])
    assert (reg.n_iter_, reg.t_) == (1, 600) and reg.loss_curve_[-1] < reg.loss_curve_[0]
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        MLPRegressor(early_stopping=True, backend=backend.spec).partial_fit(X, X[:, 0])


def test_warm_start_continues(backend):
    X, y = _blobs(n=30)
    clf = _quiet_fit(MLPClassifier(**_fast(warm_start=True, backend=backend.spec)), X, y)
    before = clf.coefs_[0].copy()
    _quiet_fit(clf, X, y)
    # scikit-learn's counts: n_iter_ is this fit's epochs, t_ the samples seen by all of them
    assert (clf.n_iter_, clf.t_, len(clf.loss_curve_)) == (5, 300, 10) and not np.array_equal(before, clf.coefs_[0])
    with pytest.raises(ValueError, match="warm_start"):
        clf.fit(X, (y + 1) % 4)


def test_stochastic_solvers_train_with_one_run_of_the_loop(backend, monkeypatch):
    """fit is one bpx fit of max_iter epochs (stopped by scikit-learn's rule), partial_fit one of one epoch;
    invscaling's rate is a schedule inside the run and a number between runs: scikit-learn's final rate."""
    calls = []
    original = bpx.MLP.fit

    def counted(net, *args, **kwargs):
        calls.append(kwargs["epochs"])
        return original(net, *args, **kwargs)

    monkeypatch.setattr(bpx.MLP, "fit", counted)
    X, y = _blobs(n=30)
    kw = _fast(solver="sgd", learning_rate="invscaling", learning_rate_init=0.1, power_t=0.5, batch_size=10,
               max_iter=6, tol=1e-9, n_iter_no_change=100, backend=backend.spec)
    clf = _quiet_fit(MLPClassifier(**kw), X, y)
    assert calls == [6] and (clf.n_iter_, clf.t_) == (6, 180)
    assert clf._optimizer.lr == clf._optimizer.learning_rate == pytest.approx(0.1 / 181 ** 0.5, rel=1e-12)
    clf.partial_fit(X, y)
    assert calls == [6, 1] and (clf.n_iter_, clf.t_) == (1, 210)
    assert clf._optimizer.lr == pytest.approx(0.1 / 211 ** 0.5, rel=1e-12)
    stopped = _quiet_fit(MLPClassifier(**dict(kw, learning_rate="constant", tol=10.0, n_iter_no_change=1)), X, y)
    assert calls[2:] == [6] and stopped.n_iter_ == 3  # stopped inside the run: no 10.0 gain for more than 1 epoch


def test_pickle_round_trip_and_clone(backend, to_input):
    X, y = _blobs(n=30)
    clf = _quiet_fit(MLPClassifier(**_fast(backend=backend.spec)), to_input(X), y)
    twin = pickle.loads(pickle.dumps(clf))
    assert twin._net.backend == clf._net.backend
    np.testing.assert_array_equal(bpx.to_numpy(twin.predict_proba(to_input(X))), bpx.to_numpy(clf.predict_proba(to_input(X))))
    twin.partial_fit(X, y)  # the optimizer state travelled too
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params() and not hasattr(fresh, "_net")
    assert pickle.loads(pickle.dumps(backend)) == backend


def test_gridsearch_and_pipeline(backend):
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(**_fast(max_iter=30, learning_rate_init=0.05, backend=backend.spec)))
    search = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(4,), (8,)], "mlpclassifier__alpha": [1e-4, 1e-2]},
                          cv=2)
    _quiet_fit(search, X, y)
    assert set(search.best_params_) == {"mlpclassifier__hidden_layer_sizes", "mlpclassifier__alpha"}
    assert search.best_estimator_.score(X, y) > 0.8
