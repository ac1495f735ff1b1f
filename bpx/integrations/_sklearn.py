"""scikit-learn estimators on bpx: :class:`MLPClassifier` and :class:`MLPRegressor`.

They take ``sklearn.neural_network``'s parameter names, defaults and meanings, train a :class:`bpx.MLP`
on any bpx backend (``backend=``: ``"numpy"``, ``"torch:cuda"``, ``"cupy"``, ...) and pass
scikit-learn's estimator checks, so they drop into pipelines, grid searches and ``clone``.
scikit-learn is an optional dependency (``pip install 'bpx-backprop[sklearn]'``); ``import bpx`` never needs it.

How they map onto scikit-learn's MLP (same names, same defaults):

- ``solver``: ``'adam'``, ``'sgd'`` (momentum, Nesterov) and ``'lbfgs'`` (:class:`bpx.LBFGS`, full batch,
  on the estimator's backend: ``max_iter`` iterations, ``max_fun`` cost evaluations, ``tol`` on the
  largest gradient entry as SciPy's ``gtol``; ``partial_fit`` is not offered, as in scikit-learn).
- ``learning_rate``: ``'constant'``, ``'invscaling'`` (``lr = learning_rate_init / (t + 1) ** power_t``
  after every epoch, t = samples seen) and ``'adaptive'`` (lr / 5 after ``n_iter_no_change`` epochs
  without improvement, stop below 1e-6), for ``solver='sgd'`` as in scikit-learn.
- ``alpha``: L2 penalty ``alpha/2 · ‖W‖² / batch_size`` added to the mean loss of every mini-batch,
  i.e. optimizer weight decay ``alpha / batch_size`` on the weight matrices (not the biases), as
  scikit-learn does; scikit-learn divides by the actual length of the last, shorter batch of an
  epoch, bpx by the nominal batch size for every batch. ``loss_curve_`` includes the penalty
  (``alpha/2 · ‖W‖² · n_batches / n_samples`` with the weights at the start of the epoch, where
  scikit-learn uses each batch's weights): with full batches the numbers are scikit-learn's exactly.
- Initial weights are scikit-learn's (Glorot uniform, factor 2 for logistic, 6 otherwise, biases
  uniform too), drawn from ``random_state`` the same way, so a seed gives the same initial network
  as ``sklearn.neural_network``; shuffling differs (bpx draws its own orders from the same seed).
- Adam is bpx's (ε added to √v̂; scikit-learn adds it to √v, a negligible difference).
- Losses: softmax + cross-entropy (multiclass), sigmoid + binary cross-entropy (binary, one output
  unit; multilabel), identity + squared error (regression; the reported loss is scikit-learn's
  ``mean((y − ŷ)²) / 2`` over samples and outputs, the gradient is the same as scikit-learn's).
- ``dtype``: ``None`` (default) computes in the dtype of X like scikit-learn (float32 X stays
  float32, anything else float64), or float32 where the backend has no float64; ``'float32'`` or
  ``'float64'`` fixes it (``'float32'`` is the fast choice on GPUs).

Outputs follow the input's array namespace and device (scikit-learn's array-API rule): NumPy (or
lists, DataFrames) in, NumPy out; a torch tensor in, a torch tensor out on its device; array-api-strict
in, array-api-strict out on its device. Input already on the estimator's backend and device is used
where it is (no host round trip); other input travels through the host. Class labels are mapped on
the host, so ``predict`` returns string labels as a NumPy array whatever the input.

A pandas (or polars, pyarrow) DataFrame keeps its column names (``feature_names_in_``). One with text
columns (which scikit-learn's own MLP refuses) is encoded on the host by a
:class:`bpx.data.TablePreprocessor` with ``bpx train``'s defaults (one-hot over the training
categories, unseen ones all zeros; missing cells: the median or a ``(missing)`` category; the numeric
columns scaled as ``--scale auto`` picks), kept by the estimator, so later DataFrames are matched by
column name. A network from :func:`bpx.to_sklearn` hands the estimator the preprocessing it carries.
``partial_fit`` and a ``fit`` with ``warm_start=True`` apply the estimator's preprocessing as
``predict`` does (never learnt again; the class names kept); a ``fit`` without ``warm_start`` starts
over, as scikit-learn's does: new weights and, for a DataFrame with text columns, a preprocessing
learnt from that table.
``coefs_`` and ``intercepts_`` are host NumPy copies in scikit-learn's (n_in, n_out) layout; the
live parameters stay on the device.
"""

from __future__ import annotations

import numbers
import warnings

import array_api_compat
import numpy as np

from ..backends._backend import Backend, dtype_name, get_backend, is_host_data, to_numpy
from ..callbacks._callback import Callback
from ..data._adapter import as_data, as_matrix, as_sample_weight
from ..data._table import TablePreprocessor, as_table, is_frame
from ..errors import TrainingDiverged
from ..models._mlp import MLP
from ..nn._functional import loss_and_grads
from ..nn._losses import normalized_weights
from ..optimizers._first_order import SGD, Adam
from ..optimizers._lbfgs import LBFGS
from ..optimizers._schedules import Schedule
from ..utils._extras import install_hint
from ..utils._validation import check_bool, check_choice, check_float, check_int, is_bool, sklearn_error
from ._sklearn_names import SKLEARN_ACTIVATIONS, SKLEARN_HIDDEN, sklearn_name

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
    from sklearn.metrics import r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import type_of_target, unique_labels
    from sklearn.utils.validation import (
        _check_sample_weight,
        check_is_fitted,
        check_random_state,
        column_or_1d,
        validate_data,
    )
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(f"bpx.sklearn needs scikit-learn>=1.4: {install_hint('sklearn')}") from exc

__all__ = ["MLPClassifier", "MLPRegressor"]

SOLVERS = ("lbfgs", "sgd", "adam")
STOCHASTIC = ("sgd", "adam")
NONFINITE = ("Solver produced non-finite parameter weights. The input data may contain large values and need to "
             "be preprocessed.")
LEARNING_RATES = ("constant", "invscaling", "adaptive")


# -- parameter checks (ValueError naming the parameter, scikit-learn's convention: bpx.utils checks with owner=)
def _hidden_sizes(owner):
    value = owner.hidden_layer_sizes
    expected = "a positive int or a tuple of positive ints such as (100,) or (64, 32)"
    if is_bool(value):
        raise sklearn_error(owner, "hidden_layer_sizes", expected, value)
    if isinstance(value, numbers.Integral):
        value = (value,)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise sklearn_error(owner, "hidden_layer_sizes", expected, owner.hidden_layer_sizes)
    sizes = list(value)
    for i, size in enumerate(sizes):
        if is_bool(size) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(
                f"The 'hidden_layer_sizes' parameter of {type(owner).__name__} must be {expected}. "
                f"Got {owner.hidden_layer_sizes!r} instead: element {i} is {size!r} ({type(size).__name__})."
            )
    return [int(s) for s in sizes]


# -- arrays: where they live, where results go -------------------------------------------------------
def _on(backend, X):
    """True when X is an array of ``backend``'s namespace on its device (used where it is)."""
    return (not is_host_data(X)) and backend.owns(X) and array_api_compat.device(X) == backend.device


def _host(X):
    """X as something scikit-learn's validation accepts: foreign array-API arrays go to NumPy."""
    if not is_host_data(X) and array_api_compat.is_array_api_obj(X):
        return to_numpy(X)
    return X


def _to_backend(backend, X, dtype):
    """Validated host X onto the backend. torch warns on read-only NumPy arrays (memmaps), so those are
    copied first: the caller's array is never written either way."""
    if backend.name == "torch" and not X.flags.writeable and np.dtype(dtype) == X.dtype:
        X = X.copy()
    return backend.asarray(X, dtype, name="X")


def _target(X):
    """Where outputs for input X go: None for the host (NumPy), else (namespace, device)."""
    if is_host_data(X) or not array_api_compat.is_array_api_obj(X):
        return None
    return array_api_compat.array_namespace(X), array_api_compat.device(X)


class _BaseMLP(BaseEstimator):
    """The parameters, validation and training loop shared by both estimators."""

    _classifier = False

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000, backend=None,
                 dtype=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.backend = backend
        self.dtype = dtype

    # -- checks -----------------------------------------------------------------------------------
    def _check_params(self):
        """Every parameter checked before any work; returns the normalised values."""
        p = {"hidden": _hidden_sizes(self)}
        p["activation"] = check_choice(self.activation, "activation", SKLEARN_HIDDEN, owner=self)
        p["solver"] = check_choice(self.solver, "solver", SOLVERS, owner=self)
        p["alpha"] = check_float(self.alpha, "alpha", low=0.0, owner=self)
        if isinstance(self.batch_size, str):
            check_choice(self.batch_size, "batch_size", ("auto",), owner=self)
        elif is_bool(self.batch_size) or not isinstance(self.batch_size, numbers.Integral) or self.batch_size < 1:
            raise sklearn_error(self, "batch_size", "'auto' or an int in the range [1, inf)", self.batch_size)
        p["learning_rate"] = check_choice(self.learning_rate, "learning_rate", LEARNING_RATES, owner=self)
        p["lr"] = check_float(self.learning_rate_init, "learning_rate_init", low=0.0, low_open=True, owner=self)
        p["power_t"] = check_float(self.power_t, "power_t", low=0.0, owner=self)
        p["max_iter"] = check_int(self.max_iter, "max_iter", 1, owner=self)
        check_bool(self.shuffle, "shuffle", owner=self)
        if not (self.random_state is None or isinstance(self.random_state, np.random.RandomState)
                or (isinstance(self.random_state, numbers.Integral) and not is_bool(self.random_state)
                    and 0 <= self.random_state < 2**32)):
            raise sklearn_error(self, "random_state", "None, an int in [0, 2**32 - 1] or a numpy RandomState",
                                self.random_state)
        p["tol"] = check_float(self.tol, "tol", low=0.0, owner=self)
        if not (is_bool(self.verbose) or (isinstance(self.verbose, numbers.Integral) and self.verbose >= 0)):
            raise sklearn_error(self, "verbose", "a bool or an int >= 0", self.verbose)
        check_bool(self.warm_start, "warm_start", owner=self)
        p["momentum"] = check_float(self.momentum, "momentum", low=0.0, high=1.0, high_open=True, owner=self)
        check_bool(self.nesterovs_momentum, "nesterovs_momentum", owner=self)
        check_bool(self.early_stopping, "early_stopping", owner=self)
        p["validation_fraction"] = check_float(self.validation_fraction, "validation_fraction", low=0.0, high=1.0,
                                               low_open=True, high_open=True, owner=self)
        p["beta_1"] = check_float(self.beta_1, "beta_1", low=0.0, high=1.0, high_open=True, owner=self)
        p["beta_2"] = check_float(self.beta_2, "beta_2", low=0.0, high=1.0, high_open=True, owner=self)
        p["epsilon"] = check_float(self.epsilon, "epsilon", low=0.0, low_open=True, owner=self)
        if isinstance(self.n_iter_no_change, numbers.Real) and self.n_iter_no_change == np.inf:
            p["n_iter_no_change"] = np.inf  # never stop on the loss (scikit-learn's Options(Real, {np.inf}))
        else:
            p["n_iter_no_change"] = check_int(self.n_iter_no_change, "n_iter_no_change", 1, owner=self)
        p["max_fun"] = check_int(self.max_fun, "max_fun", 1, owner=self)
        p["loss"] = self._check_loss()
        if not (self.backend is None or isinstance(self.backend, (str, Backend))):
            raise sklearn_error(self, "backend", "None, a bpx backend spec such as 'numpy' or 'torch:cuda', or a bpx.Backend",
                                self.backend)
        if self.dtype is not None:
            try:
                dtype_name(self.dtype)
            except TypeError:
                raise sklearn_error(self, "dtype", "None, 'float32' or 'float64'", self.dtype) from None
        return p

    def __sklearn_is_fitted__(self):
        return hasattr(self, "_net")

    def _check_solver(self):
        if self.solver not in STOCHASTIC:
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. {self.solver} is not "
                                 f"stochastic.")
        return True

    # -- the public attributes computed from the network ------------------------------------------
    def _check_loss(self):
        return None

    @property
    def coefs_(self):
        """The weight matrices W[l], host NumPy copies of shape (n_in, n_out). Assignable, as in
        scikit-learn: an assigned list (and later changes to its items) is what the next ``fit``,
        ``partial_fit`` or ``predict`` uses."""
        if "_coefs_set" in self.__dict__:
            return self._coefs_set
        check_is_fitted(self)
        return [to_numpy(W).copy() for W in self._net.weights]

    @coefs_.setter
    def coefs_(self, value):
        self.__dict__["_coefs_set"] = value

    @property
    def intercepts_(self):
        """The bias vectors b[l], host NumPy copies of shape (n_out,) (zeros for a network without biases);
        assignable like ``coefs_``."""
        if "_intercepts_set" in self.__dict__:
            return self._intercepts_set
        check_is_fitted(self)
        if not self._net.bias:
            return [np.zeros(n, dtype=self._net.dtype) for n in self._net.layer_sizes[1:]]
        return [to_numpy(b).copy() for b in self._net.biases]

    @intercepts_.setter
    def intercepts_(self, value):
        self.__dict__["_intercepts_set"] = value

    def _assigned(self):
        return "_coefs_set" in self.__dict__ or "_intercepts_set" in self.__dict__

    def _apply_assigned(self):
        """Move assigned ``coefs_``/``intercepts_`` into the network (checked, all or nothing)."""
        if not self._assigned() or not hasattr(self, "_net"):
            return
        coefs = self.__dict__.get("_coefs_set")
        intercepts = self.__dict__.get("_intercepts_set")
        params = list(self._net.params)
        if coefs is not None:
            params[0::2] = [np.asarray(c, dtype=float) for c in coefs]
        if intercepts is not None:
            params[1::2] = [np.asarray(b, dtype=float).reshape(-1) for b in intercepts]
        self._net.set_params(params)
        self.__dict__.pop("_coefs_set", None)
        self.__dict__.pop("_intercepts_set", None)

    def _adopt_assigned(self, p, backend, dtype, n_features, n_outputs, out_activation, loss):
        """A network built around assigned ``coefs_``/``intercepts_`` on an estimator never fitted
        (scikit-learn's own worked example sets them by hand, then calls ``partial_fit``)."""
        coefs = [np.asarray(c, dtype=float) for c in self.__dict__.get("_coefs_set") or []]
        intercepts = [np.asarray(b, dtype=float).reshape(-1) for b in self.__dict__.get("_intercepts_set") or []]
        if not coefs or len(coefs) != len(intercepts) or any(c.ndim != 2 for c in coefs):
            raise ValueError("assigned coefs_ and intercepts_ must be lists of as many 2-D weight matrices as bias "
                             "vectors, one per layer")
        sizes = [coefs[0].shape[0]] + [c.shape[1] for c in coefs]
        if sizes[0] != n_features or sizes[-1] != n_outputs:
            raise ValueError(f"assigned coefs_ map {sizes[0]} features to {sizes[-1]} outputs, but X has {n_features} "
                             f"features and y encodes to {n_outputs} outputs")
        assigned = getattr(self, "out_activation_", None)  # scikit-learn's example may assign "logistic"
        out = SKLEARN_ACTIVATIONS[assigned] if assigned == "logistic" else out_activation
        net = MLP(sizes, activation=SKLEARN_ACTIVATIONS[p["activation"]], output=out, loss=loss, backend=backend,
                  dtype=dtype, seed=0, init="glorot")
        net.set_params([q for pair in zip(coefs, intercepts) for q in pair])
        self.__dict__.pop("_coefs_set", None)
        self.__dict__.pop("_intercepts_set", None)
        self._use(net)

    def _use(self, net):
        """``net`` as this estimator's network, with scikit-learn's attributes of a network that has not
        trained yet (the bookkeeping of scikit-learn's ``_initialize``)."""
        self._net = net
        self.n_layers_ = len(net.layer_sizes)
        self.n_outputs_ = net.n_outputs
        self.out_activation_ = sklearn_name(net.output)
        self.n_iter_, self.t_, self.loss_curve_, self._no_improvement_count = 0, 0, [], 0
        self.validation_scores_, self.best_validation_score_, self.best_loss_ = (
            ([], -np.inf, None) if self.early_stopping else (None, None, np.inf))
        return self

    # -- data ---------------------------------------------------------------------------------------
    def _dtype_for(self, backend, X):
        if self.dtype is not None:
            return dtype_name(self.dtype)
        name = "float32" if str(getattr(X, "dtype", "")).endswith("float32") else "float64"
        return name if backend.has_dtype(name) else "float32"

    def _validate_fit(self, X, y, reset):
        """(X on the backend's device, y on the host) after scikit-learn's checks. Sparse X (CSR/CSC) is
        densified on the host, then moved to the backend."""
        backend = get_backend(self.backend) if reset or not hasattr(self, "_net") else self._net.backend
        names = None
        text = is_frame(X) and any(c.dtype == object for c in as_table(X).columns)
        if reset:  # a new fit: text columns are one-hot encoded by a preprocessing learnt from this table
            pre = TablePreprocessor().fit(X) if text else None
            self._table_preprocessing = None if pre is None else pre.to_dict()
        else:  # going on (partial_fit, warm_start): the preprocessing kept, applied as predict applies it
            pre = self._preprocessing()
            if pre is None and text:
                raise ValueError(f"X has text columns, but {type(self).__name__} was fitted on numbers")
        if pre is not None:
            X, names = pre.transform(X), pre.feature_names
            if not reset:  # columns matched by name (or position) and encoded: the network's features
                Xd = as_matrix(backend, X, "X", self._net.dtype, n_columns=self.n_features_in_)
                return backend, self._net.dtype, Xd, self._check_y(_host(y), Xd.shape[0])
        if _on(backend, X):
            if reset:
                self.n_features_in_ = int(X.shape[1]) if X.ndim == 2 else 0
                if hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            dtype = self._dtype_for(backend, X) if reset else self._net.dtype
            Xd = as_matrix(backend, X, "X", dtype, n_columns=None if reset else self.n_features_in_)
            y = self._check_y(_host(y), Xd.shape[0])
            return backend, dtype, Xd, y
        X, y = validate_data(self, _host(X), _host(y), reset=reset, multi_output=True, accept_sparse=["csr", "csc"],
                             y_numeric=not self._classifier, dtype=(np.float64, np.float32))
        X = _dense(X)
        if names is not None and reset:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        dtype = self._dtype_for(backend, X) if reset else self._net.dtype
        if not reset and X.shape[1] != self.n_features_in_:  # pragma: no cover - validate_data raises first
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is expecting {self.n_features_in_}")
        return backend, dtype, _to_backend(backend, X, dtype), y

    def _preprocessing(self):
        """The table preprocessing X goes through: the estimator's own (learnt by ``fit`` on a DataFrame
        with text columns, or the one a network from :func:`bpx.to_sklearn` carried; the network computes
        on the encoded matrix), else the one its network carries, else None."""
        own = getattr(self, "_table_preprocessing", None)
        return TablePreprocessor.from_dict(own) if own is not None else TablePreprocessor.of(self._net)

    def _check_y(self, y, m):
        """y checks for the device path (scikit-learn's validate_data checks them on the host path)."""
        from sklearn.utils.validation import _assert_all_finite, check_consistent_length

        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        y = np.asarray(y)
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D or 2-D, got shape {y.shape}")
        check_consistent_length(np.empty((m, 0)), y)
        if y.dtype.kind in "fc":
            _assert_all_finite(y, input_name="y")
        return y

    def _prepare_X(self, X):
        """X for prediction: on the network's device, its features checked."""
        check_is_fitted(self)
        self._apply_assigned()
        backend = self._net.backend
        pre = self._preprocessing()
        if pre is not None:  # text columns at fit, or a network that carries preprocessing (bpx.to_sklearn)
            return as_matrix(backend, pre.transform(X), "X", self._net.dtype, n_columns=self._net.n_features)
        if _on(backend, X):
            return as_matrix(backend, X, "X", self._net.dtype, n_columns=self.n_features_in_)
        X = validate_data(self, _host(X), reset=False, dtype=(np.float64, np.float32), accept_sparse=["csr", "csc"])
        return _to_backend(backend, _dense(X), self._net.dtype)

    def _output(self, result, X):
        """A network result moved to X's namespace and device (NumPy for host input)."""
        target = _target(X)
        if target is None:
            return to_numpy(result)
        if _on(self._net.backend, X) and (array_api_compat.is_array_api_obj(result)):
            return result
        return _to_target(to_numpy(result), target)

    # -- training -----------------------------------------------------------------------------------
    def _initialize(self, p, backend, dtype, n_features, n_outputs, out_activation, loss):
        """A new network with scikit-learn's initial weights (``_init_coef``), from ``random_state``."""
        rs = self._random_state
        sizes = [n_features, *p["hidden"], n_outputs]
        factor = 2.0 if p["activation"] == "logistic" else 6.0
        params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            params.append(rs.uniform(-bound, bound, (fan_in, fan_out)))
            params.append(rs.uniform(-bound, bound, fan_out))
        net = MLP(sizes, activation=SKLEARN_ACTIVATIONS[p["activation"]], output=out_activation, loss=loss, backend=backend,
                  dtype=dtype, seed=int(rs.randint(np.iinfo(np.int32).max)), init="glorot")
        net.set_params(params)
        self._use(net)

    def _make_optimizer(self, p):
        if p["solver"] == "sgd":
            return _SGD(lr=p["lr"], momentum=p["momentum"], nesterov=bool(self.nesterovs_momentum and p["momentum"] > 0))
        return _Adam(lr=p["lr"], beta1=p["beta_1"], beta2=p["beta_2"], eps=p["epsilon"])

    def _fit(self, X, y, incremental, sample_weight=None):
        p = self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        adopt = not hasattr(self, "_net") and self._assigned()  # coefs_/intercepts_ assigned by hand
        first = not adopt and (not hasattr(self, "_net") or (not self.warm_start and not incremental))
        if first or adopt:
            self._random_state = check_random_state(self.random_state)
        if first:
            self.__dict__.pop("_coefs_set", None)
            self.__dict__.pop("_intercepts_set", None)
        else:
            self._apply_assigned()
        backend, dtype, Xd, y = self._validate_fit(X, y, reset=first or adopt)
        sw = None
        if sample_weight is not None:
            sw = _check_sample_weight(_host(sample_weight), np.empty((Xd.shape[0], 0)), dtype=np.float64)
        Y = self._encode_y(y, first or adopt, incremental)  # host (m, n_outputs) float array
        if first or adopt:
            out, loss = self._output_layer(Y)
            if first:
                self._initialize(p, backend, dtype, Xd.shape[1], Y.shape[1], out, loss)
            else:
                self._adopt_assigned(p, backend, dtype, Xd.shape[1], Y.shape[1], out, loss)
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs, but {type(self).__name__} was fitted with {self.n_outputs_}")
        if p["solver"] == "lbfgs":
            self._fit_lbfgs(p, Xd, Y, sw)
        else:
            self._fit_stochastic(p, Xd, Y, y, sw, incremental)
        return self

    def _fit_lbfgs(self, p, Xd, Y, sw):
        """scikit-learn's ``_fit_lbfgs`` on :class:`bpx.LBFGS`: the full-batch cost plus
        ``alpha/2 · ‖W‖² / Σw``, at most ``max_iter`` iterations and ``max_fun`` cost evaluations."""
        net = self._net
        backend = net.backend
        total = float(Xd.shape[0]) if sw is None else float(np.sum(sw))
        opt = LBFGS(tol=p["tol"], max_fun=p["max_fun"], weight_decay=p["alpha"] / total)
        Yd = backend.asarray(Y, net.dtype, name="y")
        swd = None if sw is None else backend.asarray(sw, net.dtype, name="sample_weight")
        try:
            net.fit(Xd, Yd, epochs=p["max_iter"], optimizer=opt, verbose=0, sample_weight=swd)
        except TrainingDiverged:
            raise ValueError(NONFINITE) from None
        self.n_iter_ = opt.n_iter
        self._n_fun = opt.n_fun  # cost evaluations of the last lbfgs fit
        scale = self.n_outputs_ if net.loss_name == "mse" else 1  # scikit-learn's squared loss averages outputs
        self.loss_ = opt.fun_data / scale + (opt.fun - opt.fun_data)
        if self.verbose:
            print(f"L-BFGS: {opt.n_iter} iterations, {opt.n_fun} cost evaluations, loss = {self.loss_:.8f}: "
                  f"{opt.message}")
        if not opt.converged:
            msg = f"lbfgs failed to converge after {opt.n_iter} iteration(s): {opt.message}.\n"
            if opt.n_iter == p["max_iter"]:
                msg += f"\nIncrease the number of iterations to improve the convergence (max_iter={p['max_iter']})."
            warnings.warn(msg, ConvergenceWarning, stacklevel=4)

    def _loss_grad_lbfgs(self, packed, X, Y, sample_weight=None, *_buffers):
        """scikit-learn's private objective of its lbfgs solver, kept for code that calls it (its own
        gradient test does): parameters packed as all ``coefs_`` raveled, then all ``intercepts_``; returns
        ``(loss, gradient)`` of the cost plus ``alpha/2 · ‖W‖² / Σw`` as host NumPy, and leaves those
        parameters in the model (as scikit-learn does)."""
        check_is_fitted(self)
        net, xp = self._net, self._net.backend.xp
        packed = np.asarray(packed, dtype=float)
        shapes = net.param_shapes()
        sizes = [int(np.prod(shape)) for shape in shapes]
        if packed.shape != (sum(sizes),):
            raise ValueError(f"packed parameters must be a vector of {sum(sizes)} values, got shape {packed.shape}")
        order = list(range(0, len(shapes), 2)) + list(range(1, len(shapes), 2))  # coefs first, then intercepts
        params, start = [None] * len(shapes), 0
        for k in order:
            params[k] = packed[start:start + sizes[k]].reshape(shapes[k])
            start += sizes[k]
        net.set_params(params)
        Xd, Yd = as_data(net, _dense(X), np.asarray(Y, dtype=float).reshape(X.shape[0], -1))
        weights, total = None, float(X.shape[0])
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=float)
            weights, total = normalized_weights(as_sample_weight(net, sw, X.shape[0]), xp), float(np.sum(sw))
        cost, grads, _ = loss_and_grads(net, net.params, Xd, Yd, weights)
        alpha = float(self.alpha)
        loss = float(cost) + 0.5 * alpha * sum(float(np.sum(q * q)) for q in params[0::2]) / total
        grads = [to_numpy(g) + (alpha / total) * q if q.ndim == 2 else to_numpy(g) for g, q in zip(grads, params)]
        return loss, np.concatenate([grads[k].ravel() for k in order])

    def _fit_stochastic(self, p, Xd, Y, y, sw, incremental):
        """scikit-learn's ``_fit_stochastic`` as one run of bpx's loop: :class:`_ScikitLearnEpochs` keeps the
        per-epoch bookkeeping and the stopping rule, :class:`_EpochInverseScaling` is ``invscaling``."""
        net, backend = self._net, self._net.backend
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._make_optimizer(p)
        early_stopping = self.early_stopping and not incremental
        m = Xd.shape[0]
        val = None
        sw_val = None
        if early_stopping:
            # scikit-learn stratifies on the encoded targets (one column: binary), not on multilabel ones
            stratify = Y.astype(bool) if self._classifier and self.n_outputs_ == 1 else None
            train, held = train_test_split(np.arange(m), test_size=p["validation_fraction"],
                                           random_state=self._random_state, stratify=stratify)
            if held.shape[0] < 2:
                raise ValueError(
                    f"The validation set is too small ({held.shape[0]} sample) for early_stopping=True: "
                    f"raise validation_fraction={p['validation_fraction']} or pass more than {m} samples"
                )
            xp = backend.xp
            ti, hi = backend.asarray(train), backend.asarray(held)
            val = (xp.take(Xd, hi, axis=0), y[held])
            if sw is not None:
                sw, sw_val = sw[train], sw[held]
            Xd, Y, m = xp.take(Xd, ti, axis=0), Y[train], train.shape[0]
        Yd = backend.asarray(Y, net.dtype, name="y")
        swd = None if sw is None else backend.asarray(sw, net.dtype, name="sample_weight")
        if self.batch_size == "auto":
            batch = min(200, m)
        else:
            if self.batch_size > m:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                              stacklevel=3)
            batch = min(int(self.batch_size), m)
        opt = self._optimizer
        # scikit-learn divides the penalty's gradient by each batch's Σw: with weights, by the mean batch's
        mean_w = 1.0 if sw is None else float(np.mean(sw))
        opt.weight_decay = p["alpha"] / (batch * mean_w) if mean_w > 0 else 0.0
        if p["solver"] == "sgd" and p["learning_rate"] == "invscaling":
            opt.lr = _EpochInverseScaling(p["lr"], p["power_t"], opt.learning_rate, self.t_, m, -(-m // batch),
                                          getattr(opt, "t", 0) + 1)
        scale = self.n_outputs_ if net.loss_name == "mse" else 1  # scikit-learn's squared loss averages outputs
        epochs = _ScikitLearnEpochs(self, p, m, batch, scale, self._no_improvement_count, self._best_params,
                                    score=(lambda: self._validation_score(*val, sw_val)) if early_stopping else None)
        try:
            net.fit(Xd, Yd, epochs=1 if incremental else p["max_iter"], batch_size=batch, optimizer=opt,
                    shuffle=bool(self.shuffle), verbose=0, sample_weight=swd, callbacks=[epochs])
        except TrainingDiverged:
            # scikit-learn keeps going on NaN; bpx restored the epoch's start. With early stopping the
            # best parameters are restored below (scikit-learn's outcome); without, it is its error.
            if not early_stopping:
                raise ValueError(NONFINITE) from None
            epochs.record(float("nan"), diverged=True)
        finally:
            opt.lr = opt.learning_rate  # the rate the next fit or partial_fit starts from, as a number
            self._no_improvement_count, self._best_params = epochs.no_improvement_count, epochs.best_params
        if early_stopping and self._best_params is not None:
            net.set_params(self._best_params)
        if not (incremental or epochs.stopped) and self.n_iter_ == p["max_iter"]:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({p['max_iter']}) reached and the optimization "
                          f"hasn't converged yet.", ConvergenceWarning, stacklevel=4)
        self.loss_ = self.loss_curve_[-1]

    _best_params = None

    def score(self, X, y, sample_weight=None):
        """Accuracy (classifier) or R² (regressor), computed on the host whatever X's namespace."""
        from sklearn.metrics import accuracy_score

        metric = accuracy_score if self._classifier else r2_score
        sw = None if sample_weight is None else np.asarray(_host(sample_weight))
        return float(metric(np.asarray(_host(y)), to_numpy(self.predict(X)), sample_weight=sw))

    def _more_tags_common(self, tags):
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True  # CSR/CSC X is densified on the host
        tags.non_deterministic = False
        return tags

    @classmethod
    def from_network(cls, net):
        """A fitted estimator around a copy of ``net`` (:func:`bpx.to_sklearn`, which checks that
        scikit-learn can express it): the hidden sizes and activation, backend and dtype of ``net``; a
        classifier's classes are ``net.classes`` (else 0..k-1; a multilabel network's are its k outputs),
        and ``fit(warm_start=True)``/``partial_fit`` continue from its weights."""
        est = cls(hidden_layer_sizes=tuple(net.layer_sizes[1:-1]), activation=sklearn_name(net.activation),
                  backend=net.backend, dtype=net.dtype)
        cls._wrap(est, net)
        return est

    def _wrap(self, net):
        """This (new) estimator made a fitted one around a copy of ``net`` (:meth:`from_network`), with
        the bookkeeping of a network that has not trained here yet (``loss_`` None)."""
        k = net.n_outputs
        if self._classifier:
            if net.output == "sigmoid" and k > 1:  # multilabel
                binarizer = LabelBinarizer().fit(np.eye(k, dtype=np.int64))
            else:
                classes = np.asarray(net.classes) if net.classes is not None else np.arange(max(k, 2))
                if len(classes) != max(k, 2):
                    raise ValueError(f"net has {len(classes)} class names for {k} output units")
                binarizer = LabelBinarizer().fit(classes)
            self._label_binarizer = binarizer
            self.classes_ = binarizer.classes_
        self.n_features_in_ = net.n_features
        self._random_state = check_random_state(self.random_state)  # early_stopping's split in a warm fit
        self.loss_ = None
        net = net.copy()
        pre = TablePreprocessor.of(net)
        self._table_preprocessing = None if pre is None else pre.to_dict()
        if pre is not None:  # the estimator applies it, in partial_fit and a warm fit as in predict; the
            # network computes on the encoded matrix (MLP.fit would apply it a second time)
            net.metadata = {key: value for key, value in net.metadata.items() if key != "preprocessing"}
            if pre.feature_names is not None:
                self.feature_names_in_ = np.asarray(pre.feature_names, dtype=object)
        self._use(net)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier trained by bpx's backprop on any bpx backend.

    scikit-learn's ``MLPClassifier`` parameters (``solver`` 'adam', 'sgd' or 'lbfgs'), plus ``backend`` (a bpx
    backend spec, default ``$BPX_BACKEND`` else auto) and ``dtype`` (None follows X). Multiclass uses a
    softmax output and cross-entropy; binary and multilabel targets a sigmoid output per label and
    binary cross-entropy. ``classes_`` may hold any labels (ints, strings, ...).

    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate, learning_rate_init, \
power_t, max_iter, shuffle, random_state, tol, verbose, warm_start, momentum, nesterovs_momentum, \
early_stopping, validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, max_fun
        scikit-learn's parameters of the same names, with the same defaults and meanings (see
        ``sklearn.neural_network.MLPClassifier``); ``alpha`` is applied as weight decay ``alpha /
        batch_size`` per batch, and ``solver='lbfgs'`` runs :class:`bpx.LBFGS` on the backend.
    backend : str, optional
        A bpx backend spec (``"numpy"``, ``"torch:cuda"``, ...); default ``$BPX_BACKEND``, else ``auto``.
    dtype : {"float32", "float64"} or None, default None
        The network's dtype; None follows X, as scikit-learn does.

    Attributes
    ----------
    classes_ : numpy.ndarray
        The class labels.
    coefs_, intercepts_ : list of numpy.ndarray
        Host copies of the weights, (n_in, n_out), and biases; assignable (the next ``fit``,
        ``partial_fit`` or ``predict`` uses them).
    loss_ : float
        The current loss.
    loss_curve_ : list of float
        The loss of each epoch (sgd, adam).
    n_iter_ : int
        Epochs (or L-BFGS iterations) of the last ``fit``.
    t_ : int
        Training samples seen.
    best_validation_score_, validation_scores_
        With ``early_stopping``.
    n_features_in_, n_layers_, n_outputs_, out_activation_
        As in scikit-learn.

    Raises
    ------
    ValueError
        From ``fit``, naming the parameter, for an invalid parameter value (``hidden_layer_sizes=(2.5,)``
        included), and for non-finite training (scikit-learn's message).

    """

    _classifier = True
    score = _BaseMLP.score  # not ClassifierMixin's: predictions on a device go to the host first

    def fit(self, X, y, sample_weight=None):
        """Fit the model to X and target labels y (1-D labels or a multilabel indicator matrix), each
        sample's loss weighted by ``sample_weight`` if given. Without ``warm_start`` it starts over (new
        weights, classes and, for a DataFrame with text columns, table preprocessing learnt from X);
        with it, training goes on through the preprocessing and classes the estimator has."""
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y). ``classes`` (all labels that y may hold) is required on the first call.
        Only for the stochastic solvers ('sgd', 'adam'), as in scikit-learn. X goes through the
        estimator's table preprocessing, as in ``predict`` (it is never learnt again here)."""
        if not hasattr(self, "_net"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self._label_binarizer = LabelBinarizer()
            yt = type_of_target(_host(y))
            self._label_binarizer.fit(_host(y) if yt.startswith("multilabel") else _host(classes))
        elif classes is not None and not np.array_equal(np.unique(_host(classes)), self.classes_):
            raise ValueError(f"`classes={classes!r}` is not the same as on the first call to partial_fit, "
                             f"which was {self.classes_!r}")
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _encode_y(self, y, first, incremental):
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected. Please change the shape of "
                          "y to (n_samples, ), for example using ravel().", DataConversionWarning, stacklevel=4)
            y = column_or_1d(y)
        if first and not incremental:
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if first:  # the first partial_fit: the binarizer was fitted on `classes`
                self.classes_ = self._label_binarizer.classes_
            if self.warm_start and not incremental:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        f"warm_start can only be used where `y` has the same classes as in the previous call to fit. "
                        f"Previously got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {classes}.")
        Y = self._label_binarizer.transform(y).astype(np.float64)
        if not first and Y.shape[1] == 1 and self.n_outputs_ == 2:  # a softmax over two classes (bpx.to_sklearn)
            Y = np.concatenate([1.0 - Y, Y], axis=1)
        return Y

    def _output_layer(self, Y):
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax", "cross_entropy"
        return "sigmoid", "binary_cross_entropy"

    def _validation_score(self, Xv, yv, sw=None):
        from sklearn.metrics import accuracy_score

        return float(accuracy_score(yv, self._labels(self._net.forward(Xv)), sample_weight=sw))

    def _labels(self, A):
        """Host labels from the network's output probabilities (scikit-learn's thresholds)."""
        proba = to_numpy(A)
        if self.n_outputs_ == 1:
            proba = proba.ravel()
        return self._label_binarizer.inverse_transform(proba)

    def predict(self, X):
        """Class labels (n_samples,) (a 0/1 indicator matrix for multilabel targets), in X's namespace."""
        Xd = self._prepare_X(X)
        labels = self._labels(self._net.forward(Xd))
        target = _target(X)
        if target is None or labels.dtype.kind not in "biuf":
            return labels
        return _to_target(labels, target)

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes), in X's namespace and device."""
        Xd = self._prepare_X(X)
        A = self._net.forward(Xd)
        if self.n_outputs_ == 1 and self._label_binarizer.y_type_ == "binary":
            xp = self._net.backend.xp
            A = xp.concat([1.0 - A, A], axis=1)
        return self._output(A, X)

    def predict_log_proba(self, X):
        """log of :meth:`predict_proba`."""
        proba = self.predict_proba(X)
        xp = array_api_compat.array_namespace(proba)
        return xp.log(proba)

    def __sklearn_tags__(self):
        tags = self._more_tags_common(super().__sklearn_tags__())
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor trained by bpx's backprop on any bpx backend.

    scikit-learn's ``MLPRegressor`` parameters (``solver`` 'adam', 'sgd' or 'lbfgs'), plus ``backend`` and
    ``dtype``. Identity output and squared error (``loss='squared_error'``), or exp output and half the
    Poisson deviance (``loss='poisson'``); a 1-D y (or a single output) gives 1-D predictions.

    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate, learning_rate_init, \
power_t, max_iter, shuffle, random_state, tol, verbose, warm_start, momentum, nesterovs_momentum, \
early_stopping, validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, max_fun
        scikit-learn's parameters of the same names, with the same defaults and meanings (see
        ``sklearn.neural_network.MLPRegressor``); ``alpha`` is applied as weight decay ``alpha /
        batch_size`` per batch, and ``solver='lbfgs'`` runs :class:`bpx.LBFGS` on the backend.
    loss : {'squared_error', 'poisson'}, default 'squared_error'
        The loss (``poisson`` has an exp output and refuses negative y).
    backend : str, optional
        A bpx backend spec (``"numpy"``, ``"torch:cuda"``, ...); default ``$BPX_BACKEND``, else ``auto``.
    dtype : {"float32", "float64"} or None, default None
        The network's dtype; None follows X, as scikit-learn does.

    Attributes
    ----------
    coefs_, intercepts_ : list of numpy.ndarray
        Host copies of the weights, (n_in, n_out), and biases; assignable (the next ``fit``,
        ``partial_fit`` or ``predict`` uses them).
    loss_ : float
        The current loss.
    loss_curve_ : list of float
        The loss of each epoch (sgd, adam).
    n_iter_ : int
        Epochs (or L-BFGS iterations) of the last ``fit``.
    t_ : int
        Training samples seen.
    best_validation_score_, validation_scores_
        With ``early_stopping``.
    n_features_in_, n_layers_, n_outputs_, out_activation_
        As in scikit-learn.

    Raises
    ------
    ValueError
        From ``fit``, naming the parameter, for an invalid parameter value (``hidden_layer_sizes=(2.5,)``
        included), and for non-finite training (scikit-learn's message).

    """

    score = _BaseMLP.score  # not RegressorMixin's: predictions on a device go to the host first

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, loss="squared_error", solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000, backend=None,
                 dtype=None):
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
                         max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
                         warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
                         early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
                         beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
                         backend=backend, dtype=dtype)
        self.loss = loss

    def _check_loss(self):
        return check_choice(self.loss, "loss", ("squared_error", "poisson"), owner=self)

    def fit(self, X, y, sample_weight=None):
        """Fit the model to X and targets y ((n_samples,) or (n_samples, n_outputs)), each sample's loss
        weighted by ``sample_weight`` if given. Without ``warm_start`` it starts over (new weights and,
        for a DataFrame with text columns, table preprocessing learnt from X); with it, training goes on
        through the preprocessing the estimator has."""
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights (initialising on the first call).
        Only for the stochastic solvers ('sgd', 'adam'), as in scikit-learn. X goes through the
        estimator's table preprocessing, as in ``predict`` (it is never learnt again here)."""
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _encode_y(self, y, first, incremental):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected. Please change the shape of "
                          "y to (n_samples, ), for example using ravel().", DataConversionWarning, stacklevel=4)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.dtype.kind not in "biuf":
            raise ValueError(f"y must hold numbers for a regressor, got dtype {y.dtype}")
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError("Some value(s) of y are negative which is not allowed for Poisson regression "
                             "(loss='poisson' needs counts or rates y >= 0).")
        return y.astype(np.float64)

    def _output_layer(self, Y):
        if self.loss == "poisson":
            return "exp", "poisson"  # scikit-learn's out_activation_ 'exp' with the half Poisson deviance
        return "identity", "mse"

    def _validation_score(self, Xv, yv, sw=None):
        pred = to_numpy(self._net.forward(Xv))
        if not np.all(np.isfinite(pred)):
            return float("nan")  # scikit-learn's score of non-finite predictions
        return float(r2_score(yv.reshape(pred.shape), pred, sample_weight=sw))

    def predict(self, X):
        """Predictions (n_samples,) for one output, else (n_samples, n_outputs), in X's namespace."""
        Xd = self._prepare_X(X)
        A = self._net.forward(Xd)
        if self.n_outputs_ == 1:
            A = A[:, 0]
        return self._output(A, X)

    def __sklearn_tags__(self):
        tags = self._more_tags_common(super().__sklearn_tags__())
        tags.target_tags.multi_output = True
        return tags


def _to_target(host, target):
    """A host NumPy array moved into ``target`` = (namespace, device)."""
    xp, device = target
    if host.dtype == np.float64:
        info = getattr(xp, "__array_namespace_info__", None)
        if info is not None and "float64" not in info().dtypes(device=device):
            host = host.astype(np.float32)
    if array_api_compat.is_cupy_namespace(xp):
        with device:
            return xp.asarray(host)
    return xp.asarray(host, device=device)


def _dense(X):
    """Sparse X (scipy CSR/CSC) as a dense host array, with a clear message where it does not fit."""
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        try:
            return X.toarray()
        except MemoryError:
            raise ValueError(
                f"sparse X of shape {X.shape} does not fit in memory as a dense array, which bpx.sklearn needs "
                f"(it computes on dense arrays); reduce the features or train in parts with partial_fit"
            ) from None
    return X


class _EpochInverseScaling(Schedule):
    """scikit-learn's ``invscaling`` as the schedule of one ``fit``: ``start`` during its first epoch, then
    ``lr / (t + 1) ** power_t``, t the samples seen when the epoch begins (``seen`` before the fit, ``m``
    more per epoch of ``steps`` optimizer steps; ``first`` is the fit's first step)."""

    def __init__(self, lr, power_t, start, seen, m, steps, first):
        self.lr, self.power_t, self.start, self.seen, self.m, self.steps, self.first = (
            lr, power_t, start, seen, m, steps, first)

    def __call__(self, t):
        epoch = (t - self.first) // self.steps  # this fit's epochs before step t
        return self.start if epoch <= 0 else self.lr / (self.seen + epoch * self.m + 1) ** self.power_t


class _ScikitLearnEpochs(Callback):
    """scikit-learn's bookkeeping after each epoch (``_fit_stochastic``, ``_update_no_improvement_count``)
    in bpx's loop: ``n_iter_``, ``t_`` and ``loss_curve_`` (``scale`` divides the loss, ``alpha`` adds
    the L2 penalty of the epoch's starting weights), then ``best_loss_`` or, with ``score`` (early
    stopping), ``validation_scores_``, ``best_validation_score_`` and ``best_params``. Stops once
    ``no_improvement_count`` exceeds ``n_iter_no_change``; ``learning_rate='adaptive'`` divides the rate
    by 5 instead while it is above 1e-6. See docs/development/architecture.md (callbacks)."""

    def __init__(self, estimator, p, m, batch, scale, no_improvement_count, best_params, score=None):
        self.estimator, self.p, self.m, self.batch, self.scale, self.score = estimator, p, m, batch, scale, score
        self.no_improvement_count, self.best_params = no_improvement_count, best_params
        self.stopped, self.penalty = False, 0.0
        estimator.n_iter_ = 0
        if score is not None:  # fitted before without early stopping (or made by bpx.to_sklearn): nothing yet
            estimator.validation_scores_ = estimator.validation_scores_ or []
            if estimator.best_validation_score_ is None:
                estimator.best_validation_score_ = -np.inf
        elif estimator.best_loss_ is None:  # fitted with early_stopping=True before: no best loss yet
            estimator.best_loss_ = np.inf

    def on_epoch_begin(self, epoch):
        if self.p["alpha"]:  # scikit-learn adds α/2 ‖W‖² at every batch's forward pass; here ‖W‖² at the start
            xp = self.model.backend.xp
            sq = float(to_numpy(xp.sum(xp.stack([xp.sum(W * W) for W in self.model.weights]))))
            self.penalty = 0.5 * self.p["alpha"] * sq * (-(-self.m // self.batch)) / self.m

    def on_epoch_end(self, epoch, logs):
        est, p = self.estimator, self.p
        loss = self.record(logs["loss"] / self.scale + self.penalty)
        if self.score is None:
            self.best_params = None
            self.count(loss > est.best_loss_ - p["tol"])
            est.best_loss_ = min(est.best_loss_, loss)
        else:
            score = self.score()
            est.validation_scores_.append(score)
            if est.verbose:
                print(f"Validation score: {score:f}")
            self.count(score < est.best_validation_score_ + p["tol"])
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                self.best_params = [to_numpy(q).copy() for q in self.model.params]
        if self.no_improvement_count > p["n_iter_no_change"]:
            what = "Validation score" if self.score is not None else "Training loss"
            msg = f"{what} did not improve more than tol={p['tol']:f} for {p['n_iter_no_change']} consecutive epochs."
            opt = self.model.optimizer
            if p["solver"] == "sgd" and p["learning_rate"] == "adaptive" and opt.lr > 1e-6:
                opt.lr /= 5.0
                self.no_improvement_count = 0
                msg += f" Setting learning rate to {opt.lr:f}"
            else:
                self.stopped = True
                msg += " Learning rate too small. Stopping." if p["learning_rate"] == "adaptive" else " Stopping."
            if est.verbose:
                print(msg)
        return self.stopped

    def record(self, loss, diverged=False):
        """One more epoch of ``m`` samples and its ``loss``; one that ``diverged`` (under early stopping)
        scores NaN, as in scikit-learn."""
        est = self.estimator
        est.n_iter_ += 1
        est.t_ += self.m
        est.loss_curve_.append(loss)
        if diverged:
            est.validation_scores_.append(loss)
        elif est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {loss:.8f}")
        return loss

    def count(self, worse):
        self.no_improvement_count = self.no_improvement_count + 1 if worse else 0


class _ScikitLearnRate:
    """scikit-learn's name for the optimizer's current step size, ``_optimizer.learning_rate`` (the next
    step's rate where ``lr`` is a schedule)."""

    @property
    def learning_rate(self):
        return self.rate(getattr(self, "t", 0) + 1)


class _SGD(_ScikitLearnRate, SGD):
    """bpx.SGD with scikit-learn's ``learning_rate``."""


class _Adam(_ScikitLearnRate, Adam):
    """bpx.Adam with scikit-learn's ``learning_rate``."""
