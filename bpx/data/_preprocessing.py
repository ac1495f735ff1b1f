"""Host-side preprocessing the CLI stores with a model: feature scaling, label encoding, one-hot.

Everything here works on NumPy arrays on the host (host-side data code, docs/development/architecture.md,
"The math never imports an array library": loading happens before a backend is involved); the parameters are
plain JSON so that :func:`bpx.save` keeps them in ``net.metadata`` and ``bpx predict``/``bpx evaluate``
apply exactly the training-time transformation.

Scaling methods:

===============  ==============================================================================
``none``         X as it is
``255``          X / 255 (8-bit images)
``max``          X / max(X_train) (one number; the bundled digits, 0..16, become X / 16)
``standardize``  (X - mean) / std per feature, from the training data; a constant feature (std 0)
                 is divided by 1
===============  ==============================================================================
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..utils._validation import check_choice

SCALINGS = ("none", "255", "max", "standardize")


class Scaler:
    """A feature scaling fitted on training data: ``fit(X)``, ``transform(X)``, ``to_dict()``,
    ``Scaler.from_dict(d)``.

    Parameters
    ----------
    method : {"none", "255", "max", "standardize"}, default "none"
        See the module docstring.

    Raises
    ------
    ValueError
        For an unknown ``method``."""

    def __init__(self, method="none"):
        self.method = check_choice(method, "scaling", SCALINGS)
        self.scale = None  # 'max': one number; 'standardize': per-feature std
        self.mean = None  # 'standardize': per-feature mean
        self.n_features = None

    def __repr__(self):
        return f"Scaler({self.method!r})"

    def fit(self, X):
        X = _host_matrix(X, "X")
        self.n_features = X.shape[1]
        if self.method == "max":
            top = float(np.max(np.abs(X)))
            self.scale = top if top > 0 else 1.0
        elif self.method == "standardize":
            self.mean = X.mean(axis=0)
            std = X.std(axis=0)
            self.scale = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X):
        X = _host_matrix(X, "X")
        if self.n_features is not None and X.shape[1] != self.n_features:
            raise ValueError(f"X has {X.shape[1]} features, but the scaling was fitted on {self.n_features}")
        if self.method not in ("none", "255") and self.scale is None:
            raise ValueError(f"Scaler({self.method!r}) is not fitted: call fit(X_train) first")
        return self.apply(X, lambda values: values)

    def apply(self, X, const):
        """The scaling's arithmetic on a matrix ``X`` of any array-API library, without checks;
        ``const`` turns the fitted per-feature vectors into that library's arrays (``transform``
        passes them as they are; :func:`bpx.export_onnx` records this very code as ONNX nodes)."""
        if self.method == "none":
            return X
        if self.method == "255":
            return X / 255.0
        if self.method == "max":
            return X / self.scale
        return (X - const(self.mean)) / const(self.scale)

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def to_dict(self):
        d = {"method": self.method, "n_features": self.n_features}
        if self.method == "max":
            d["scale"] = self.scale
        elif self.method == "standardize":
            d["mean"] = [float(v) for v in self.mean]
            d["std"] = [float(v) for v in self.scale]
        return d

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict) or "method" not in d:
            raise ValueError(f"a scaling must be a dict with a 'method', got {d!r}")
        s = cls(d["method"])
        s.n_features = d.get("n_features")
        try:
            if s.method == "max":
                s.scale = float(d["scale"])
                if not (math.isfinite(s.scale) and s.scale > 0):
                    raise ValueError
            elif s.method == "standardize":
                s.mean = np.asarray(d["mean"], dtype=np.float64)
                s.scale = np.asarray(d["std"], dtype=np.float64)
                if s.mean.shape != s.scale.shape or s.mean.ndim != 1 or not np.all(np.isfinite(s.mean)) \
                        or not np.all(s.scale > 0):
                    raise ValueError
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"malformed {s.method!r} scaling parameters: {d!r}") from None
        return s


def _host_matrix(X, name):
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples, features), got shape {X.shape}")
    return X.astype(np.float64, copy=False)


# -- labels ---------------------------------------------------------------------------------------------
def label_names(y, classes=None, what="class labels", where=None):
    """Labels as strings: ``classes[y]`` when the file declares class names (y are indices into
    them), else the labels themselves (integral numbers written without a decimal point: 3.0 -> "3").
    ``what`` starts an error message (e.g. ``"data.csv: labels"``); ``where(i)`` names sample ``i`` in
    it (a :class:`Dataset`'s ``where``: the CSV row as elsewhere; default ``label i+1``)."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{what} must be a vector, got shape {y.shape}")
    if classes is not None:
        idx = _integral(y, what, where)
        if idx.size and (idx.min() < 0 or idx.max() >= len(classes)):
            raise ValueError(f"labels index class names 0..{len(classes) - 1}, got {int(idx.min())}..{int(idx.max())}")
        return np.asarray([str(classes[i]) for i in idx], dtype=object)
    if y.dtype.kind in "biuf":
        idx = _integral(y, what, where)
        return np.asarray([str(int(v)) for v in idx], dtype=object)
    return np.asarray([str(v) for v in y], dtype=object)


def _integral(y, what, where=None):
    where = where or (lambda i: f"label {i + 1}")
    if y.dtype.kind in "biu":
        return y.astype(np.int64)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            bad = int(np.flatnonzero(~np.isfinite(y))[0])
            raise ValueError(f"{what} contain NaN or infinite values ({where(bad)} is {float(y[bad])!r})")
        if not np.all(y == np.round(y)):
            bad = int(np.flatnonzero(y != np.round(y))[0])
            raise ValueError(f"{what} must be integers (or names); {where(bad)} is {float(y[bad])!r}")
        return y.astype(np.int64)
    raise TypeError(f"{what} must be numbers, got dtype {y.dtype}")


def sorted_classes(names):
    """The distinct names, sorted numerically when they are all integers, else alphabetically."""
    distinct = set(names)
    try:
        return sorted(distinct, key=int)
    except ValueError:
        return sorted(distinct)


class LabelEncoder:
    """Class names <-> indices 0..k-1. ``classes`` is the list of names (str).

    Parameters
    ----------
    classes : list, optional
        The class names (converted to str); None until fitted."""

    def __init__(self, classes=None):
        self.classes = None if classes is None else [str(c) for c in classes]

    def fit(self, names):
        self.classes = sorted_classes(names)
        return self

    def transform(self, names, what="labels"):
        if self.classes is None:
            raise ValueError("the label encoder is not fitted")
        index = {c: i for i, c in enumerate(self.classes)}
        unseen = sorted({n for n in names if n not in index})
        if unseen:
            shown = ", ".join(repr(u) for u in unseen[:5]) + (", ..." if len(unseen) > 5 else "")
            raise ValueError(
                f"{what} hold class(es) unseen at training time: {shown}; the model knows "
                f"{', '.join(repr(c) for c in self.classes)}"
            )
        return np.asarray([index[n] for n in names], dtype=np.int64)

    def inverse_transform(self, indices):
        return np.asarray([self.classes[int(i)] for i in np.asarray(indices)], dtype=object)


def one_hot(indices, n_classes):
    """Integer labels 0..k-1 as an (m, k) float64 matrix of one-hot rows.

    Parameters
    ----------
    indices : array_like of int
        Labels (m,), each in 0..n_classes-1.
    n_classes : int
        k.

    Returns
    -------
    numpy.ndarray
        (m, k) float64.

    Raises
    ------
    ValueError
        If a label is outside 0..n_classes-1."""
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive integer, got {n_classes!r}")
    idx = _integral(np.asarray(indices), "indices")
    if idx.ndim != 1:
        raise ValueError(f"indices must be a vector, got shape {idx.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= n_classes):
        raise ValueError(f"indices must lie in 0..{n_classes - 1}, got {int(idx.min())}..{int(idx.max())}")
    out = np.zeros((idx.size, n_classes))
    out[np.arange(idx.size), idx] = 1.0
    return out


def stratified_split(y_index, fraction, seed):
    """Indices ``(train, test)``: a seeded random ``fraction`` of each class held out (at least one row
    of every class with two or more rows). For targets without classes use :func:`random_split`.

    Parameters
    ----------
    y_index : array_like of int
        Class indices (m,).
    fraction : float
        The share of rows held out, in (0, 1).
    seed : int
        Seed of the ``numpy.random.Generator``.

    Returns
    -------
    train, test : numpy.ndarray
        Sorted row indices.

    Raises
    ------
    ValueError
        If ``y_index`` is None."""
    rng = np.random.default_rng(seed)
    if y_index is None:
        raise ValueError("stratified_split needs labels")
    y_index = np.asarray(y_index)
    test = []
    for c in np.unique(y_index):
        rows = np.flatnonzero(y_index == c)
        rng.shuffle(rows)
        k = int(round(rows.size * fraction))
        k = min(max(k, 1 if rows.size > 1 else 0), rows.size - 1)
        test.append(rows[:k])
    test = np.sort(np.concatenate(test)) if test else np.zeros(0, dtype=np.int64)
    train = np.setdiff1d(np.arange(y_index.size), test)
    return train, test


def random_split(m, fraction, seed):
    """Indices ``(train, test)``: a seeded random ``fraction`` of ``m`` rows held out.

    Parameters
    ----------
    m : int
        Rows.
    fraction : float
        The share held out, in (0, 1).
    seed : int
        Seed of the ``numpy.random.Generator``.

    Returns
    -------
    train, test : numpy.ndarray
        Sorted row indices."""
    order = np.random.default_rng(seed).permutation(m)
    k = min(max(int(round(m * fraction)), 1), m - 1)
    return np.sort(order[k:]), np.sort(order[:k])


# -- the preprocessing a model carries (net.metadata["preprocessing"]) ----------------------------------
def describe(net):
    """The model's stored preprocessing dict (empty when it was not trained by the CLI)."""
    meta = net.metadata.get("preprocessing") if isinstance(net.metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def model_targets(net, y, classes=None, what="labels", where=None):
    """Labels/targets from a data file in the form the model trains on: class indices (by class name,
    refusing names unseen at training time; one-hot rows for several sigmoid units) for a classifier
    with class names, else the numbers."""
    y = np.asarray(y)
    if net.classes is not None and y.ndim == 1:
        index = LabelEncoder(net.classes).transform(list(label_names(y, classes, what, where)), what)
        return one_hot(index, net.n_outputs) if net.output == "sigmoid" and net.n_outputs > 1 else index
    if y.dtype.kind not in "biuf":
        first = (where or (lambda i: f"label {i + 1}"))(0)
        raise ValueError(f"{what} must be numbers for this model (it has no class names); {first} is "
                         f"{str(y.reshape(-1)[0])!r}, a name")
    return y.astype(np.float64)


# -- the choices `bpx train` makes by default (--task auto, --scale auto), each with its reason -----------
MAX_AUTO_CLASSES = 20  # integer targets with at most this many distinct values are taken as classes
MIN_PIXEL_COLUMNS = 16  # fewer columns than this is a table, not an image


def infer_task(y, classes=None):
    """``(task, reason)``: ``"classification"`` or ``"regression"`` for the targets ``y``, and why.

    The rule (``bpx train --task auto``): class names in the file, text labels or booleans → classes;
    several target columns or fractional numbers → regression; integers with at most
    ``MAX_AUTO_CLASSES`` distinct values → classes; more distinct integers are classes only when they
    are class indices (every value of 0..k−1 or 1..k present), else a regression (e.g. a count or a
    score that happens to be whole).

    Parameters
    ----------
    y : array_like
        The targets, (m,) or (m, k).
    classes : list of str, optional
        Class names the data file declares.

    Returns
    -------
    task : str
        ``"classification"`` or ``"regression"``.
    reason : str
        Why, in the words ``bpx train`` prints."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return "regression", f"{y.shape[1]} target columns"
    y = y.reshape(-1)
    if classes is not None:
        return "classification", f"the file names {len(classes)} classes"
    if y.dtype.kind not in "biuf":
        return "classification", f"text labels, {len(set(y.tolist()))} distinct"
    if y.dtype.kind == "b":
        return "classification", "true/false labels"
    values = np.unique(y)
    n = values.size
    if y.dtype.kind == "f" and not np.all(values == np.round(values)):
        return "regression", f"fractional numbers, {n} distinct values"
    if n <= MAX_AUTO_CLASSES:
        return "classification", f"{n} distinct integer values, at most {MAX_AUTO_CLASSES} are taken as classes"
    lo, hi = int(values[0]), int(values[-1])
    if lo in (0, 1) and hi - lo + 1 == n:
        return "classification", f"integer labels {lo}..{hi}, every one present: class indices"
    return "regression", (f"{n} distinct integer values over {y.size} rows: more than {MAX_AUTO_CLASSES} and not "
                          f"class indices 0..k-1")


def choose_scaling(X):
    """``(method, reason)``: the feature scaling ``bpx train --scale auto`` picks for the training data.

    Pixel-like data (non-negative, at least ``MIN_PIXEL_COLUMNS`` columns, and the columns share one
    range: the median column maximum is at least half the largest) → ``max``: X divided by that shared
    maximum, which keeps the pixels' relative intensities. Anything else is tabular → ``standardize``:
    each feature to mean 0 and standard deviation 1, whatever its units.

    Parameters
    ----------
    X : array_like
        The training features, (m, n), on the host.

    Returns
    -------
    method : str
        ``"max"`` or ``"standardize"``.
    reason : str
        Why, in the words ``bpx train`` prints."""
    X = _host_matrix(X, "X")
    n = X.shape[1]
    if X.size == 0:
        return "standardize", "tabular (no data to inspect)"
    if float(X.min()) < 0:
        return "standardize", f"tabular: {n} features, some negative"
    col_max = X.max(axis=0)
    top, median = float(col_max.max()), float(np.median(col_max))
    if n >= MIN_PIXEL_COLUMNS and top > 0 and median >= 0.5 * top:
        return "max", f"pixel-like: {n} non-negative columns sharing one range 0..{top:g}"
    if n < MIN_PIXEL_COLUMNS:
        return "standardize", f"tabular: {n} features with column maxima {float(col_max.min()):g}..{top:g}"
    return "standardize", (f"tabular: {n} features of different ranges, column maxima "
                           f"{float(col_max.min()):g}..{top:g}")
