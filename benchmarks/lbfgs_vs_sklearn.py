"""solver='lbfgs': bpx.sklearn against sklearn.neural_network on scikit-learn's small data sets.

    BPX_BACKEND=numpy python benchmarks/lbfgs_vs_sklearn.py

Same estimator parameters and random_state (so the same initial weights); prints each one's final
``loss_``, iterations and cost evaluations (scikit-learn's counted by wrapping its ``_loss_grad_lbfgs``),
and seconds (one run each, so only indicative on a busy machine).
"""

from __future__ import annotations

import time
import warnings

from sklearn import neural_network as sk
from sklearn.datasets import load_digits, load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import MinMaxScaler, StandardScaler, scale

from bpx import sklearn as bs

calls = [0]


def _counting(original):
    def counted(self, *args, **kwargs):
        calls[0] += 1
        return original(self, *args, **kwargs)

    return counted


def cases():
    Xd, yd = load_digits(n_class=3, return_X_y=True)
    Xd, yd = MinMaxScaler().fit_transform(Xd[:200]), yd[:200]
    Xi, yi = load_iris(return_X_y=True)
    Xi = StandardScaler().fit_transform(Xi)
    Xr, yr = make_regression(n_samples=200, n_features=10, bias=20.0, noise=100.0, random_state=7)
    yr = scale(yr)
    return [
        ("iris", "C", Xi, yi, dict(hidden_layer_sizes=(5,), alpha=1.0, activation="tanh")),
        ("iris alpha=1e-2", "C", Xi, yi, dict(hidden_layer_sizes=(5,), alpha=1e-2, activation="tanh")),
        ("digits (3 classes)", "C", Xd, yd, dict(hidden_layer_sizes=(20,), alpha=1.0, activation="logistic")),
        ("regression", "R", Xr, yr, dict(hidden_layer_sizes=(20,), alpha=1.0, activation="tanh")),
        ("regression relu", "R", Xr, yr, dict(hidden_layer_sizes=(50,), alpha=1e-4, activation="relu", tol=1e-3)),
    ]


def main():
    sk.MLPClassifier._loss_grad_lbfgs = _counting(sk.MLPClassifier._loss_grad_lbfgs)
    sk.MLPRegressor._loss_grad_lbfgs = _counting(sk.MLPRegressor._loss_grad_lbfgs)
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"{'case':20s} seed | {'sklearn loss':>12s} {'iter':>5s} {'fev':>5s} {'s':>6s} | "
          f"{'bpx loss':>12s} {'iter':>5s} {'fev':>5s} {'s':>6s} | rel. diff")
    for name, kind, X, y, kw in cases():
        for seed in (0, 1):
            params = dict(solver="lbfgs", max_iter=500, random_state=seed, **kw)
            calls[0] = 0
            t = time.perf_counter()
            ref = (sk.MLPClassifier if kind == "C" else sk.MLPRegressor)(**params).fit(X, y)
            t_ref = time.perf_counter() - t
            t = time.perf_counter()
            ours = (bs.MLPClassifier if kind == "C" else bs.MLPRegressor)(**params).fit(X, y)
            t_ours = time.perf_counter() - t
            print(f"{name:20s} {seed:4d} | {ref.loss_:12.6f} {ref.n_iter_:5d} {calls[0]:5d} {t_ref:6.2f} | "
                  f"{ours.loss_:12.6f} {ours.n_iter_:5d} {ours._n_fun:5d} {t_ours:6.2f} | "
                  f"{abs(ref.loss_ - ours.loss_) / ref.loss_:.4f}")


if __name__ == "__main__":
    main()
