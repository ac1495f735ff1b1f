"""Moving networks between bpx, PyTorch and scikit-learn: the same weights, the same outputs.

- :func:`to_torch` builds a ``torch.nn.Sequential`` of ``Linear`` layers, activations and ``Dropout``
  layers that ends in logits for a softmax or sigmoid output, as PyTorch classifiers do (they are
  trained with ``CrossEntropyLoss``/``BCEWithLogitsLoss``; ``probabilities=True`` appends the
  ``Softmax``/``Sigmoid``), and in ``Identity`` for an identity output (a regression);
- :func:`from_torch` reads such a Sequential (``Linear`` layers, supported activations, ``Dropout``
  after hidden layers, ``Identity``) into a :class:`bpx.MLP`: a trailing ``Linear`` is logits (softmax
  + cross-entropy, or sigmoid + binary cross-entropy for one unit) unless ``output=``/``loss=`` say
  otherwise, a trailing ``LogSoftmax`` is softmax + cross-entropy, a trailing ``Identity`` an identity
  output;
- :func:`from_sklearn` reads a fitted ``MLPClassifier``/``MLPRegressor`` (scikit-learn's or bpx's own
  :mod:`bpx.sklearn` ones) into a ``bpx.MLP``; :func:`to_sklearn` is the way back, a fitted
  :mod:`bpx.sklearn` estimator (a scikit-learn estimator) around the network.

Activations are matched by *value*, not by name alone: a torch module stands for a bpx activation only
if both give the same numbers on a probe (so ``LeakyReLU(0.2)`` is refused, bpx's slope being 0.01,
and ``GELU(approximate='tanh')`` matches only a bpx GELU written that way). A bpx activation with no
matching torch module becomes a small module that runs bpx's own activation function on the tensor
(bpx's math runs on torch tensors), so ``to_torch`` works for every activation bpx has, and
``from_torch`` reads those modules back. torch and scikit-learn are optional dependencies.

Host-side code: it moves parameters through NumPy (an explicit copy), never during training.
"""

from __future__ import annotations

import functools

import numpy as np

from ..backends._backend import to_numpy
from ..models._mlp import MLP
from ..nn._activations import ACTIVATIONS, LEAKY_SLOPE, get_activation
from ..utils._extras import install_hint
from ._sklearn_names import SKLEARN_ACTIVATIONS, SKLEARN_HIDDEN

# torch.nn module (class name, keyword arguments) that may stand for a bpx activation; each pairing is
# confirmed on a probe before use. Names bpx does not have are skipped.
TORCH_MODULES = {
    "sigmoid": ("Sigmoid", {}),
    "tanh": ("Tanh", {}),
    "relu": ("ReLU", {}),
    "leaky_relu": ("LeakyReLU", {"negative_slope": LEAKY_SLOPE}),
    "softmax": ("Softmax", {"dim": 1}),
    "gelu": ("GELU", {}),
    "silu": ("SiLU", {}),
    "softplus": ("Softplus", {}),
    "elu": ("ELU", {}),
}
DEFAULT_LOSS = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}  # anything else: mse
PROBABILITY_OUTPUTS = ("softmax", "sigmoid")  # to_torch leaves them off by default: the module gives logits
LOGITS_OUTPUT = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid", "mse": "identity"}  # by loss=


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError(f"PyTorch interop needs torch: {install_hint('torch')}") from None
    return torch


def layer_params(net):
    """``[(W, b), ...]`` per layer as host NumPy copies, W (n_in, n_out), b (n_out,) or None for a layer
    without a bias (``layer.bias`` False), read off ``net.params`` in layer order."""
    params = iter(net.params)
    out = []
    for layer in net.layers:
        W = to_numpy(next(params))
        b = to_numpy(next(params)) if getattr(layer, "bias", True) else None
        out.append((W, b))
    return out


# -- matching activations by value ---------------------------------------------------------------------
def _probe(torch):
    z = torch.linspace(-8.0, 8.0, 65, dtype=torch.float64)
    return torch.stack([z, -z, z / 4, z * z / 8 - 4, torch.flip(z, (0,)) * 0.5])  # (5, 65): rows for softmax


@functools.cache
def _activation_module_class():
    torch = _torch()

    class BpxActivation(torch.nn.Module):
        """A bpx activation (a name or an ``Activation``) applied to a tensor: bpx's own code, run on torch."""

        def __init__(self, activation):
            super().__init__()
            self.activation = get_activation(activation)
            self.bpx_activation = self.activation.name

        def forward(self, x):
            return self.activation(x)

        def extra_repr(self):
            return repr(self.bpx_activation)

    return BpxActivation


def _same(torch, module, name):
    """Whether torch ``module`` and bpx's activation ``name`` agree on the probe (float64)."""
    z = _probe(torch)
    try:
        with torch.no_grad():
            theirs = module(z)
        ours = get_activation(name)(z)
    except Exception:  # a module that cannot run on a float64 matrix matches nothing
        return False
    return tuple(theirs.shape) == tuple(ours.shape) and bool(torch.allclose(theirs, ours, rtol=1e-6, atol=1e-9))


def _torch_activation(torch, activation):
    """The torch module for a bpx activation: the native one where it matches, else bpx's own
    function wrapped in a module; None for identity."""
    name = activation.name
    if name == "identity":
        return None
    spec = TORCH_MODULES.get(name)
    if spec is not None and hasattr(torch.nn, spec[0]) and ACTIVATIONS.get(name) is activation:
        module = getattr(torch.nn, spec[0])(**spec[1])
        if _same(torch, module, name):
            return module
    return _activation_module_class()(activation)


def _bpx_activation(torch, module, index):
    """The bpx activation name a torch activation module stands for; ValueError if none matches."""
    if isinstance(module, _activation_module_class()):
        return module.bpx_activation
    kind = type(module).__name__
    for name, (cls, _) in TORCH_MODULES.items():
        if cls == kind and name in ACTIVATIONS and _same(torch, module, name):
            return name
    raise ValueError(
        f"module[{index}] ({module!r}) is not a supported activation: bpx has no activation that gives the same "
        f"numbers (supported: Linear, Identity, Dropout and "
        f"{', '.join(f'{c}({_kwargs(kw)})' for n, (c, kw) in TORCH_MODULES.items() if n in ACTIVATIONS)})"
    )


def _kwargs(kw):
    return ", ".join(f"{k}={v!r}" for k, v in kw.items())


# -- PyTorch ------------------------------------------------------------------------------------------------
def to_torch(net, *, probabilities=False):
    """A ``torch.nn.Sequential`` (CPU, the model's dtype, eval mode) with ``net``'s weights: ``Linear``
    layers (weight = Wᵀ) each followed by its activation module (none for identity) and, where ``net``
    has dropout, a ``torch.nn.Dropout(p)`` after each hidden layer (off in eval mode, on in train mode).

    PyTorch's convention: a classifier's module gives logits. For a softmax or sigmoid output the
    module ends in the last ``Linear`` (train it with ``CrossEntropyLoss``/``BCEWithLogitsLoss``); with
    ``probabilities=True`` it ends in ``Softmax(dim=1)``/``Sigmoid`` and its output equals
    ``net.forward``. An identity output (a regression) ends in ``Identity``, so that :func:`from_torch`
    reads it back as one; any other output activation is appended as it is.

    Parameters
    ----------
    net : bpx.MLP
        The network, on any backend.
    probabilities : bool, default False
        Append the softmax/sigmoid output (probabilities) instead of ending in logits.

    Returns
    -------
    torch.nn.Sequential
        A copy: changing it does not change ``net``. An activation with no PyTorch twin becomes a small
        module running bpx's own activation code.

    Raises
    ------
    ImportError
        If PyTorch is not installed.
    TypeError
        If ``net`` is not a :class:`bpx.MLP`, or ``probabilities`` not a bool."""
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a bpx.MLP, got {type(net).__name__}")
    if not isinstance(probabilities, bool):
        raise TypeError(f"probabilities must be True or False, got {probabilities!r}")
    torch = _torch()
    dtype = getattr(torch, net.dtype)
    modules = []
    last = len(net.layers) - 1
    for i, (layer, (W, b)) in enumerate(zip(net.layers, layer_params(net))):
        linear = torch.nn.Linear(layer.n_in, layer.n_out, bias=b is not None, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            if b is not None:
                linear.bias.copy_(torch.from_numpy(b))
        modules.append(linear)
        if i == last and net.output in PROBABILITY_OUTPUTS and not probabilities:
            break  # logits
        act = _torch_activation(torch, layer.activation)
        if act is not None:
            modules.append(act)
        elif i == last:
            modules.append(torch.nn.Identity())  # an identity output: a regression, not logits
        if i < last and net.dropout[i]:
            modules.append(torch.nn.Dropout(net.dropout[i]))
    return torch.nn.Sequential(*modules).eval()


def from_torch(module, *, output=None, loss=None, backend=None, dtype=None):
    """A :class:`bpx.MLP` with the weights of ``module``, a ``torch.nn.Sequential`` of ``Linear`` layers
    each optionally followed by one activation that bpx has (one activation for all hidden layers, as
    bpx MLPs have) and a ``Dropout`` (the hidden layer's dropout probability); ``Identity`` is skipped.

    The output, by the module's end:

    - a ``Linear`` gives logits, PyTorch's convention for classifiers: softmax + cross-entropy (the
      network of ``CrossEntropyLoss``), or sigmoid + binary cross-entropy for one unit
      (``BCEWithLogitsLoss``); ``output="identity"`` or ``loss="mse"`` read it as a regression, and
      ``output=``/``loss=`` choose between the others;
    - ``LogSoftmax(dim=1)``: softmax + cross-entropy (the network of ``NLLLoss``; bpx's ``forward``
      gives the probabilities, ``exp`` of the module's output);
    - ``Identity`` after the last ``Linear``: identity + mse (what :func:`to_torch` writes for a regression);
    - an activation: that output, with its loss (cross-entropy for softmax, binary cross-entropy for
      sigmoid, else mse).

    ``dtype`` defaults to the weights' dtype. Everything is checked before the network is built.

    Parameters
    ----------
    module : torch.nn.Sequential
        ``Linear`` layers (with or without bias), each optionally followed by one activation module and
        (hidden layers) a ``Dropout``.
    output : {"softmax", "sigmoid", "identity"}, optional
        For a module that ends in a ``Linear``: what its outputs are (default: logits, as above).
    loss : str, optional
        The network's loss (default from the output, as above).
    backend : str or bpx.Backend, optional
        Where to build the network (default ``$BPX_BACKEND``, else ``auto``).
    dtype : {"float32", "float64"}, optional
        Default: the weights' dtype.

    Returns
    -------
    bpx.MLP
        A network whose ``forward`` equals the module's output.

    Raises
    ------
    ImportError
        If PyTorch is not installed.
    TypeError
        If ``module`` is not a ``Sequential``, or its weights are neither float32 nor float64 and no
        ``dtype`` is given.
    ValueError
        Naming the module's index, for a layer bpx does not have, an activation that does not match a
        bpx activation on a probe (e.g. ``LeakyReLU(0.2)``), two activations in a row, a ``Dropout``
        that is not after a hidden layer, mismatched widths, different hidden activations, or no
        ``Linear`` layer; for an ``output`` that is not one of the three, or that contradicts the
        module's own output activation."""
    torch = _torch()
    if not isinstance(module, torch.nn.Sequential):
        raise TypeError(f"module must be a torch.nn.Sequential of Linear layers and activations, got {type(module).__name__}")
    if output is not None and output not in LOGITS_OUTPUT.values():
        raise ValueError(f"output must be one of {', '.join(map(repr, LOGITS_OUTPUT.values()))} (what the module's "
                         f"last Linear gives), got {output!r}")
    layers = []  # [Linear, activation name or None, dropout probability]
    ends = None  # how the module ends after its last Linear: None (logits), "Identity", "LogSoftmax", "activation"
    for i, m in enumerate(module):
        if isinstance(m, torch.nn.Identity):
            if layers and layers[-1][1] is None:
                ends = "Identity"
            continue
        if isinstance(m, torch.nn.Dropout):
            if not layers:
                raise ValueError(f"module[{i}] ({m!r}) drops inputs; bpx has dropout after hidden layers only")
            layers[-1][2] = float(m.p)
            continue
        if isinstance(m, torch.nn.Linear):
            if layers and layers[-1][0].out_features != m.in_features:
                raise ValueError(f"module[{i}] takes {m.in_features} features, but the layer before gives "
                                 f"{layers[-1][0].out_features}")
            layers.append([m, None, 0.0])
            ends = None
            continue
        if isinstance(m, torch.nn.Sequential) or not layers:
            raise ValueError(f"module[{i}] ({type(m).__name__}) is not supported here: bpx reads a flat Sequential "
                             f"that starts with a Linear layer")
        if isinstance(m, torch.nn.LogSoftmax) and m.dim in (1, -1) and i == _last_non_dropout(torch, module):
            name, ends = "softmax", "LogSoftmax"
        else:
            name, ends = _bpx_activation(torch, m, i), "activation"
        if layers[-1][1] is not None:
            raise ValueError(f"module[{i}] ({type(m).__name__}) follows another activation; bpx layers have one each")
        layers[-1][1] = name
    if not layers:
        raise ValueError("module holds no Linear layer")
    if layers[-1][2]:
        raise ValueError(f"module ends in Dropout({layers[-1][2]}) after its output layer; bpx has dropout after "
                         f"hidden layers only")
    if ends is None:  # logits: the classifier's convention, unless output=/loss= say otherwise
        k = layers[-1][0].out_features
        out = output or LOGITS_OUTPUT.get(loss) or ("softmax" if k > 1 else "sigmoid")
        layers[-1][1] = None if out == "identity" else out
    elif output is not None and output != (layers[-1][1] or "identity"):
        raise ValueError(f"output={output!r}, but the module ends in {type(module[-1]).__name__}, a "
                         f"{layers[-1][1] or 'identity'} output (output= is for a module that ends in a Linear)")
    hidden = {act or "identity" for _, act, _ in layers[:-1]}
    if len(hidden) > 1:
        raise ValueError(f"the hidden layers use different activations ({', '.join(sorted(hidden))}); a bpx MLP "
                         f"uses one activation for all hidden layers")
    weight_dtype = layers[0][0].weight.dtype
    if dtype is None:
        dtype = str(weight_dtype).rsplit(".", 1)[-1]
        if dtype not in ("float32", "float64"):
            raise TypeError(f"module's weights are {weight_dtype}; pass dtype='float32' or 'float64' to convert them")
    output = layers[-1][1] or "identity"
    sizes = [layers[0][0].in_features] + [lin.out_features for lin, _, _ in layers]
    params = []
    for lin, _, _ in layers:
        W = np.ascontiguousarray(lin.weight.detach().cpu().double().numpy().T)
        b = np.zeros(lin.out_features) if lin.bias is None else lin.bias.detach().cpu().double().numpy()
        params += [W, b]
    dropout = [p for _, _, p in layers[:-1]]
    net = MLP(sizes, activation=hidden.pop() if hidden else "relu", output=output,
              loss=loss or DEFAULT_LOSS.get(output, "mse"), backend=backend, dtype=dtype,
              dropout=dropout if any(dropout) else 0.0)
    net.set_params(params)
    return net


def _last_non_dropout(torch, module):
    """The index of the module's last submodule that is not a Dropout or an Identity."""
    return max(i for i, m in enumerate(module) if not isinstance(m, (torch.nn.Dropout, torch.nn.Identity)))


# -- scikit-learn -----------------------------------------------------------------------------------------
def from_sklearn(estimator, *, backend=None, dtype=None):
    """A :class:`bpx.MLP` with the weights of a fitted ``MLPClassifier`` or ``MLPRegressor`` (from
    ``sklearn.neural_network`` or :mod:`bpx.sklearn`): the same hidden and output activations, the loss
    scikit-learn trains them with, the class names of a binary or multiclass classifier. Its
    ``predict_proba`` (regressors: ``forward``) equals the estimator's (for a binary classifier, the
    estimator's second column). ``dtype`` defaults to the weights' dtype.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        A fitted estimator of ``sklearn.neural_network`` or :mod:`bpx.sklearn`.
    backend : str or bpx.Backend, optional
        Where to build the network (default ``$BPX_BACKEND``, else ``auto``).
    dtype : {"float32", "float64"}, optional
        Default: the weights' dtype.

    Returns
    -------
    bpx.MLP
        The network, with the estimator's class names.

    Raises
    ------
    TypeError
        If ``estimator`` is not such an estimator.
    ValueError
        If it is not fitted, or its activations have no bpx equivalent."""
    kind = type(estimator).__name__
    if kind not in ("MLPClassifier", "MLPRegressor") or not hasattr(type(estimator), "fit"):
        raise TypeError(f"estimator must be a scikit-learn (or bpx.sklearn) MLPClassifier or MLPRegressor, got {kind}")
    if not hasattr(estimator, "coefs_") or not hasattr(estimator, "out_activation_"):
        raise ValueError(f"estimator is not fitted: call {kind}.fit(X, y) first")
    hidden = SKLEARN_ACTIVATIONS.get(estimator.activation)
    output = SKLEARN_ACTIVATIONS.get(estimator.out_activation_)
    if hidden is None or output is None:
        raise ValueError(f"estimator uses activation={estimator.activation!r}, out_activation_="
                         f"{estimator.out_activation_!r}; bpx reads {', '.join(SKLEARN_ACTIVATIONS)}")
    coefs = [np.asarray(W) for W in estimator.coefs_]
    intercepts = [np.asarray(b) for b in estimator.intercepts_]
    if dtype is None:
        dtype = coefs[0].dtype.name if coefs[0].dtype.name in ("float32", "float64") else "float64"
    sizes = [coefs[0].shape[0]] + [W.shape[1] for W in coefs]
    net = MLP(sizes, activation=hidden, output=output, loss=DEFAULT_LOSS.get(output, "mse"), backend=backend, dtype=dtype)
    net.set_params([p for pair in zip(coefs, intercepts) for p in pair])
    multilabel = output == "sigmoid" and sizes[-1] > 1
    if kind == "MLPClassifier" and not multilabel:
        net.classes = [str(c) for c in estimator.classes_]
    return net


def to_sklearn(net):
    """A fitted :mod:`bpx.sklearn` estimator around a copy of ``net`` (same backend and dtype): an
    ``MLPClassifier`` for a softmax (multiclass) or sigmoid (binary for one unit, multilabel for
    several) output, an ``MLPRegressor`` for an identity output. Its ``predict_proba``/``predict`` give
    ``net``'s outputs (a binary classifier adds the first column ``1 - p``); class labels are
    ``net.classes`` where the model has them, else 0..k-1. Hidden activations must be scikit-learn's
    (identity, logistic (sigmoid), tanh, relu), so that ``clone`` and refitting mean the same network.
    ``partial_fit`` and ``fit`` with ``warm_start=True`` go on training from ``net``'s weights; the
    bookkeeping (``loss_curve_``, ``best_loss_``, ``validation_scores_``, ...) starts empty.

    A ``net`` that carries table preprocessing (a ``bpx train`` model file; :class:`bpx.data.TablePreprocessor`)
    hands it to the estimator (``feature_names_in_`` are its columns), which applies it to every X of
    ``predict``, ``predict_proba``, ``score``, ``partial_fit`` and a warm ``fit``: a raw DataFrame with
    text columns and empty cells, its columns matched by name, encoded as at training (never learnt
    again), with the class names kept. A ``fit`` without ``warm_start`` starts over, as scikit-learn's
    does: new weights, and for a DataFrame with text columns a preprocessing learnt from that table.

    Parameters
    ----------
    net : bpx.MLP
        The network (it is copied, not shared).

    Returns
    -------
    bpx.sklearn.MLPClassifier or bpx.sklearn.MLPRegressor
        A fitted estimator.

    Raises
    ------
    TypeError
        If ``net`` is not a :class:`bpx.MLP`.
    ValueError
        If its hidden activation or output has no scikit-learn equivalent, or its class names do not
        match its output units."""
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a bpx.MLP, got {type(net).__name__}")
    names = {SKLEARN_ACTIVATIONS[name]: name for name in SKLEARN_HIDDEN}
    if net.activation not in names:
        raise ValueError(f"net's hidden activation {net.activation!r} has no scikit-learn equivalent; scikit-learn MLPs "
                         f"use {', '.join(names)}")
    if net.output not in ("softmax", "sigmoid", "identity"):
        raise ValueError(f"net's output {net.output!r} has no scikit-learn equivalent (softmax, sigmoid or identity)")
    from ._sklearn import MLPClassifier, MLPRegressor  # optional dependency: bpx.sklearn needs scikit-learn

    return (MLPRegressor if net.output == "identity" else MLPClassifier).from_network(net)
