"""What a user passes to a model, turned into what the network computes on, by the preprocessing the
model carries (``net.metadata["preprocessing"]``, a :class:`bpx.data.TablePreprocessor` as JSON).

:class:`bpx.MLP`'s ``fit``, ``predict``, ``predict_proba`` and ``evaluate`` (and through them the CLI,
``bpx explain --model`` and the scikit-learn estimators) call these functions; the math methods
(``forward``, ``loss``, ``loss_and_grads``, ``train_step``) take the network's features as they are.
The rules (docs/guide/csv.md):

- a model that carries preprocessing applies it to every host input: a DataFrame, a pyarrow or bpx
  Table (matched by column name) or a 2-D array (the training columns by position); an array of a
  backend comes to the host for it. A dask array is taken as the network's features (the lazy path
  scales it itself, :mod:`bpx.cli.train_dask`);
- a model without preprocessing takes a numeric DataFrame as its columns in order;
- ``fit`` on a DataFrame, by a model without preprocessing, fits a :class:`TablePreprocessor`
  (``bpx train``'s defaults) and stores it; a model that carries one applies it (fine-tuning keeps the
  preprocessing fixed; to refit it, delete ``net.metadata["preprocessing"]`` first);
- labels: text labels are class names, mapped through ``net.classes`` (unseen names are refused);
  numbers are class indices or targets, as always; booleans are classes 0 (False) and 1 (True);
- ``predict`` returns class **names** (a NumPy array: integers when every name is an integer, else
  strings) when the model carries preprocessing and has class names: a model trained by ``bpx train``
  or fitted on a DataFrame with text labels. Other models return class indices, as before.

Host-side glue (docs/development/architecture.md): nothing here reaches the math modules.
"""

from __future__ import annotations

import numpy as np

from ..backends._backend import is_host_data, to_numpy
from ._preprocessing import LabelEncoder, one_hot, sorted_classes
from ._table import TablePreprocessor, as_table, is_frame


def _is_dask(X):
    from array_api_compat import is_dask_array

    return is_dask_array(X)


def model_input(net, X, name="X"):
    """``X`` as the network's features: through the model's preprocessing where it has one (a host
    float64 matrix), a numeric DataFrame as its columns; anything else as it is."""
    if X is None or _is_dask(X):
        return X
    pre = TablePreprocessor.of(net)
    if pre is None:
        return as_table(X, name).numeric_matrix(name) if is_frame(X) else X
    if not is_frame(X) and not is_host_data(X):
        X = to_numpy(X)
    return pre.transform(X, name)


def _host_labels(Y):
    """``Y`` as a NumPy array when it is host data or a pandas/polars Series; None otherwise."""
    if Y is None or _is_dask(Y):
        return None
    module = type(Y).__module__.split(".")[0]
    if module in ("pandas", "polars", "pyarrow"):
        return np.asarray(Y.to_numpy() if hasattr(Y, "to_numpy") else Y)
    return np.asarray(Y) if is_host_data(Y) else None


def model_labels(net, Y, name="Y"):
    """Labels in the form the network trains on: text names through ``net.classes`` (one-hot rows
    for several sigmoid units), booleans as 0/1; numbers and backend arrays as they are."""
    a = _host_labels(Y)
    if a is None:
        return Y
    if a.dtype.kind == "b":
        return a.astype(np.int64)
    if a.dtype.kind not in "OUS":
        return a if a.dtype.kind in "biuf" else Y
    if a.ndim != 1 or net.classes is None:  # no names to map them through: the adapter refuses text
        return Y
    index = LabelEncoder(net.classes).transform([str(v) for v in a], name)
    return one_hot(index, net.n_outputs) if net.output == "sigmoid" and net.n_outputs > 1 else index


def fit_inputs(net, X, Y, validation_data):
    """``(X, Y, validation_data)`` for ``MLP.fit``: a DataFrame fits a new preprocessing (stored in
    ``net.metadata`` and, for text labels, the class names in ``net.classes``), only once every check passed."""
    if _is_dask(X):
        return X, Y, validation_data
    if is_frame(X) and TablePreprocessor.of(net) is None:
        pre = TablePreprocessor().fit(X)
        if pre.n_features_out != net.n_features:
            raise ValueError(
                f"X is a table that encodes to {pre.n_features_out} features ({len(pre.numeric)} numeric, "
                f"{pre.n_features_out - len(pre.numeric)} one-hot columns of {len(pre.text)} text column(s)), but the "
                f"network takes {net.n_features}: build it with layer_sizes[0] = {pre.n_features_out} "
                f"(bpx.data.TablePreprocessor().fit(X).n_features_out)")
        a = _host_labels(Y)
        classes = net.classes
        if a is not None and a.dtype.kind in "OUS" and a.ndim == 1:
            classes = sorted_classes(str(v) for v in a)
        features = pre.transform(X)
        old = net.metadata.get("preprocessing") if isinstance(net.metadata, dict) else None
        net.metadata["preprocessing"] = {**(old if isinstance(old, dict) else {}), **pre.to_dict()}
        net.classes = classes
    else:
        features = model_input(net, X)
    if validation_data is not None and isinstance(validation_data, (tuple, list)) and len(validation_data) == 2:
        validation_data = (model_input(net, validation_data[0], "validation X"),
                           model_labels(net, validation_data[1], "validation Y"))
    return features, model_labels(net, Y), validation_data


def named_predictions(net, labels):
    """Class indices as the model's class names where it carries preprocessing and has names (a NumPy
    array of int64 when every name is an integer, else of str); else the indices as they are."""
    if TablePreprocessor.of(net) is None or net.classes is None or net.output not in ("softmax", "sigmoid") \
            or (net.output == "sigmoid" and net.n_outputs > 1):
        return labels
    names = np.asarray(net.classes, dtype=str)[np.asarray(to_numpy(labels), dtype=np.int64)]
    try:
        return np.asarray([int(n) for n in names], dtype=np.int64) if all(n.lstrip("-").isdigit() for n in names) \
            else names
    except ValueError:
        return names
