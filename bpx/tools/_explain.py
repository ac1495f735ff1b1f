"""The teaching view: one gradient-descent step of a small network, equation by equation.

:func:`explain` runs one step of bpx's own code path on a copy of the network — the functional core's ``forward``
(``Dense.forward`` layer by layer) and ``backward`` (the loss's ``cost`` and ``delta`` for BP1,
``Dense.gradients`` for BP3/BP4, ``Dense.delta_below`` for BP2) and ``SGD.step`` — keeping every
intermediate array, so the view shows what bpx really computes on the chosen backend. This module is
host-side presentation (docs/development/architecture.md, "The math never imports an array library"): it
computes nothing itself; numpy only holds the results, copied to the host at the end to be shown.
:func:`format_text` lays the result out as the 2-2-2 worked example's step-by-step tutorial does (forward
pass, total error, backward pass from the output layer down, updated weights), with the tutorial's names
w1..w8 for its 2-2-2 example.

With no arguments it explains the 2-2-2 worked example (Mazur's): inputs 0.05, 0.10, targets 0.01,
0.99, w1..w8 = 0.15..0.55, biases 0.35 and 0.60, sigmoid units, the ½·Σ(a−y)² error, lr 0.5.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from ..backends._backend import get_backend
from ..data._adapter import as_data
from ..data._model_inputs import model_input, model_labels
from ..models._mlp import MLP
from ..nn._functional import backward, forward, measure
from ..optimizers._first_order import SGD
from ..utils._validation import check_float

MAX_UNITS = 16  # widest layer (input and output included) the view will show
MAX_SAMPLES = 4  # most samples the view will show
MAX_NAMED_WEIGHTS = 32  # weights are listed one by one (w1, w2, ...) up to this many

# Seed 004 (Mazur's worked example). The seed writes each unit's weights as a row (h1 = w1·i1 + w2·i2);
# bpx's W[l] is (n_in, n_out), so W[l][i, j] joins unit i of layer l-1 to unit j of layer l.
SEED004_LAYERS = [2, 2, 2]
SEED004_X = [[0.05, 0.10]]
SEED004_Y = [[0.01, 0.99]]
SEED004_PARAMS = [
    [[0.15, 0.25], [0.20, 0.30]],  # w1 w3 / w2 w4
    [0.35, 0.35],
    [[0.40, 0.50], [0.45, 0.55]],  # w5 w7 / w6 w8
    [0.60, 0.60],
]
SEED004_LR = 0.5

COST_EQUATIONS = {
    "mse": "C = (1/m) Σ_samples ½ Σ_j (a[L]_j − y_j)²",
    "binary_cross_entropy": "C = −(1/m) Σ_samples Σ_j [y_j log a[L]_j + (1 − y_j) log(1 − a[L]_j)]",
    "cross_entropy": "C = −(1/m) Σ_samples Σ_j y_j log a[L]_j",
}
DERIVATIVES = {
    "sigmoid": "a(1 − a)",
    "tanh": "1 − a²",
    "relu": "1 if z > 0 else 0",
    "leaky_relu": "1 if z > 0 else 0.01",
    "identity": "1",
    "softmax": "the softmax Jacobian",
}


@dataclass
class LayerStep:
    """Every number of one layer l in one step (host numpy arrays, the network's dtype)."""

    index: int  # l, 1-based: layer l maps a[l-1] to a[l]
    activation: str
    W: np.ndarray  # W[l] before the step, (n_in, n_out)
    b: np.ndarray | None  # b[l] before the step, (n_out,); None for a network without biases (bias=False)
    z: np.ndarray  # z[l] = a[l-1] @ W[l] + b[l], (m, n_out)
    a: np.ndarray  # a[l] = g(z[l]), (m, n_out)
    delta: np.ndarray  # δ[l] = ∂C/∂z[l] (BP1 for the output layer, BP2 below it), (m, n_out)
    dW: np.ndarray  # ∂C/∂W[l] = a[l-1]ᵀ @ δ[l] (BP4)
    db: np.ndarray | None  # ∂C/∂b[l] = Σ_samples δ[l] (BP3); None without biases
    W_new: np.ndarray  # W[l] − lr ∂C/∂W[l]
    b_new: np.ndarray | None  # b[l] − lr ∂C/∂b[l]; None without biases


@dataclass
class Explanation:
    """One explained gradient-descent step; ``str()`` is :func:`format_text`."""

    layer_sizes: list
    activation: str
    output: str
    loss: str
    backend: str
    dtype: str
    lr: float
    X: np.ndarray  # a[0], (m, n_in)
    Y: np.ndarray  # y, (m, n_out)
    cost: float  # C before the step
    cost_after: float  # C after the step (same X, Y)
    fused: bool  # the output activation is the loss's matched pair: δ[L] = (a[L] − y)/m
    layers: list = field(default_factory=list)  # LayerStep for l = 1..L
    seed004: bool = False  # the 2-2-2 worked example (its network and its sample)

    @property
    def m(self):
        return int(self.X.shape[0])

    @property
    def grads(self):
        """``[dW1, db1, dW2, db2, ...]`` (``[dW1, dW2, ...]`` without biases), aligned with ``MLP.params``."""
        return [g for layer in self.layers for g in (layer.dW, layer.db) if g is not None]

    @property
    def params_after(self):
        return [p for layer in self.layers for p in (layer.W_new, layer.b_new) if p is not None]

    def named_weights(self):
        """The weights one by one, numbered as the 2-2-2 worked example numbers them: layer by layer, and within a
        layer unit by unit of the layer, input by input (w1 = W[1][0, 0], w2 = W[1][1, 0], ...).
        Each is ``{"name", "layer", "i", "j", "from", "to", "before", "grad", "after"}``."""
        rows, k = [], 0
        for layer in self.layers:
            n_in, n_out = layer.W.shape
            for j in range(n_out):
                for i in range(n_in):
                    k += 1
                    rows.append({
                        "name": f"w{k}", "layer": layer.index, "i": i, "j": j,
                        "from": _unit_name(layer.index - 1, i, len(self.layers)),
                        "to": _unit_name(layer.index, j, len(self.layers)),
                        "before": float(layer.W[i, j]), "grad": float(layer.dW[i, j]), "after": float(layer.W_new[i, j]),
                    })
        return rows

    def to_dict(self):
        """Plain JSON-serializable data (nested lists of floats)."""
        out = {
            "network": {"layer_sizes": list(self.layer_sizes), "activation": self.activation, "output": self.output,
                        "loss": self.loss, "backend": self.backend, "dtype": self.dtype},
            "example": "2-2-2 worked example" if self.seed004 else None, "lr": self.lr, "m": self.m,
            "X": self.X.tolist(), "Y": self.Y.tolist(),
            "cost": self.cost, "cost_after": self.cost_after,
            "layers": [
                {"l": s.index, "activation": s.activation,
                 **{k: getattr(s, k).tolist() for k in ("W", "b", "z", "a", "delta", "dW", "db", "W_new", "b_new")
                    if getattr(s, k) is not None}}
                for s in self.layers
            ],
        }
        if _n_weights(self) <= MAX_NAMED_WEIGHTS:
            out["weights"] = self.named_weights()
        return out

    def to_json(self, indent=2):
        return json.dumps(self.to_dict(), indent=indent)

    def __str__(self):
        return format_text(self)


def seed004_network(backend=None, dtype=None):
    """Seed 004's 2-2-2 sigmoid network with the ½·Σ(a−y)² error, on ``backend`` in ``dtype``
    (default float64 where the backend has it, else float32).

    Parameters
    ----------
    backend : str or bpx.Backend, optional
        Where to build it (default ``$BPX_BACKEND``, else ``auto``).
    dtype : {"float32", "float64"}, optional
        Default float64 where the backend has it.

    Returns
    -------
    bpx.MLP
        w1..w8 = 0.15..0.55, b1 = 0.35, b2 = 0.60, sigmoid layers, ``mse`` loss."""
    backend = get_backend(backend)
    net = MLP(SEED004_LAYERS, activation="sigmoid", output="sigmoid", loss="mse", backend=backend,
              dtype=_default_dtype(backend) if dtype is None else dtype)
    net.set_params([np.asarray(p, dtype=np.float64) for p in SEED004_PARAMS])
    return net


def explain(net=None, X=None, Y=None, lr=SEED004_LR, backend=None, dtype=None):
    """One gradient-descent step of ``net`` on ``(X, Y)`` with learning rate ``lr``, every
    intermediate kept: an :class:`Explanation`.

    With ``net=None`` it is the 2-2-2 worked example's network (and, unless given, its sample). ``backend`` and
    ``dtype`` move the work to another backend or dtype (default: the network's own; for the 2-2-2 worked example,
    float64 where available). The caller's network is never modified: the step runs on a copy.
    Networks wider than ``MAX_UNITS`` units in a layer, or more than ``MAX_SAMPLES`` samples, are
    refused (a teaching view, not a debugger).

    Parameters
    ----------
    net : bpx.MLP, optional
        The network (default: the 2-2-2 worked example's network).
    X, Y : array_like, optional
        The samples and their targets (default for the 2-2-2 worked example: x = (0.05, 0.10), y = (0.01, 0.99)).
        A network that carries preprocessing (``bpx train``, or fitted on a DataFrame) applies it to
        ``X`` first (and maps class names in ``Y``), as :meth:`bpx.MLP.predict` does.
    lr : float, default 0.5
        The learning rate of the SGD step.
    backend : str or bpx.Backend, optional
        Run the step there (default: the network's own).
    dtype : {"float32", "float64"}, optional
        Run the step in this dtype.

    Returns
    -------
    Explanation
        Every intermediate number: per layer ``z``, ``a``, δ, the gradients; the cost before and
        after; the updated parameters; the weights by name.

    Raises
    ------
    TypeError
        If ``net`` is not a :class:`bpx.MLP`, or ``X`` or ``Y`` is missing (both are needed, except
        with the 2-2-2 worked example's network, which has its own sample).
    ValueError
        For a layer wider than ``MAX_UNITS``, more than ``MAX_SAMPLES`` samples, or an ``lr`` that is
        not a positive finite number.
    """
    lr = check_float(lr, "lr", low=0.0, low_open=True)
    is_seed004 = net is None and X is None and Y is None
    if net is None:
        work = seed004_network(backend, dtype)
        if X is None and Y is None:
            X, Y = SEED004_X, SEED004_Y
    else:
        if not isinstance(net, MLP):
            raise TypeError(f"net must be a bpx.MLP, got {type(net).__name__}")
        _check_size(net.layer_sizes)
        work = net.copy(backend=backend, dtype=dtype)
    if X is None or Y is None:
        raise TypeError(f"explain needs both X and Y, got X={'None' if X is None else 'an array'}, "
                        f"Y={'None' if Y is None else 'an array'}")
    m = _n_rows(X)
    if m is not None and m > MAX_SAMPLES:
        raise ValueError(f"X has {m} samples; explain shows at most {MAX_SAMPLES} (MAX_SAMPLES): pass X[:{MAX_SAMPLES}]")
    if net is not None:  # the preprocessing the model carries: the report shows the network's own inputs
        X, Y = model_input(work, X), model_labels(work, Y)
    X, Y = as_data(work, X, Y)
    if X.shape[0] > MAX_SAMPLES:
        raise ValueError(f"X has {X.shape[0]} samples; explain shows at most {MAX_SAMPLES} (MAX_SAMPLES)")
    report = _step(work, X, Y, lr)
    report.seed004 = is_seed004
    return report


def _step(work, X, Y, lr):
    """The library's own step, with the intermediates kept (the functional core's forward and backward,
    SGD.step)."""
    xp = work.backend.xp
    with work.backend.quiet_float_errors():
        A_L, caches = forward(work, work.params, X)  # Z[l] = A[l-1] @ W[l] + b[l], A[l] = g(Z[l])
        cost, grads, deltas = backward(work, work.params, A_L, caches, Y)  # BP1, then BP2-BP4 layer by layer
        L = len(work.layers)
        before = [xp.asarray(p, copy=True) for p in work.params]  # the optimizer may update in place
        work.set_params(SGD(lr=lr).step(list(work.params), grads))  # W[l] -= lr * dW[l]
        after = work.params
        cost_after = measure(work, work.params, X, Y)[0]
    host = work.backend.to_numpy
    def slot(arrays, l, k):  # layer l's parameter k (0: W, 1: b); None for a layer without that parameter
        s = work.slices[l]
        return host(arrays[s.start + k]) if s.start + k < s.stop else None

    layers = [
        LayerStep(index=l + 1, activation=work.layers[l].activation.name,
                  W=slot(before, l, 0), b=slot(before, l, 1), z=host(caches[l][1]), a=host(caches[l][2]),
                  delta=host(deltas[l]), dW=slot(grads, l, 0), db=slot(grads, l, 1),
                  W_new=slot(after, l, 0), b_new=slot(after, l, 1))
        for l in range(L)
    ]
    return Explanation(layer_sizes=list(work.layer_sizes), activation=work.activation, output=work.output,
                       loss=work.loss_name, backend=work.backend.spec, dtype=work.dtype, lr=lr,
                       X=host(X), Y=host(Y), cost=float(host(cost)), cost_after=float(host(cost_after)),
                       fused=work.fused, layers=layers)


def _default_dtype(backend):
    return "float64" if backend.has_dtype("float64") else "float32"


def _check_size(layer_sizes):
    widest = max(layer_sizes)
    if widest > MAX_UNITS:
        raise ValueError(
            f"the network {list(layer_sizes)} has a layer of {widest} units; explain shows at most "
            f"{MAX_UNITS} units per layer (MAX_UNITS)"
        )


def _n_rows(X):
    shape = getattr(X, "shape", None)
    if shape is None:
        try:
            return len(X)
        except TypeError:
            return None
    return int(shape[0]) if len(shape) else None


def _n_weights(report):
    return sum(s.W.size for s in report.layers)


def _unit_name(level, index, n_layers):
    """Seed 004's unit names for one hidden layer (i1, h1, o1); a[l]_j otherwise."""
    if n_layers == 2:
        return f"{'iho'[level]}{index + 1}"
    return f"a[{level}]_{index + 1}"


# -- text ---------------------------------------------------------------------------------------------

def _decimals(dtype):
    return 9 if dtype == "float64" else 7


def _num(x, d):
    return f"{x:.{d}f}"


def _vec(v, d):
    return "[" + ", ".join(_num(x, d) for x in np.ravel(v)) + "]"


def _mat(M, d, indent):
    """A matrix as numpy prints it, continuation rows aligned under ``indent`` spaces."""
    rows = [_vec(row, d) for row in np.atleast_2d(M)]
    return "[" + (",\n" + " " * (indent + 1)).join(rows) + "]"


def _line(label, value, d, indent=4):
    head = " " * indent + label + " = "
    text = _mat(value, d, len(head)) if np.ndim(value) == 2 else _vec(value, d)
    return head + text


def format_text(report):
    """The step laid out like the worked example's tutorial: forward pass, cost, backward pass (BP1..BP4) from
    the output layer down, updated parameters, and the weights one by one (w1, w2, ...).

    Parameters
    ----------
    report : Explanation
        What :func:`explain` returns.

    Returns
    -------
    str
        The text ``bpx explain`` prints."""
    r, d = report, _decimals(report.dtype)
    L = len(r.layers)
    out = [
        f"One gradient-descent step of MLP({r.layer_sizes}, activation={r.activation!r}, output={r.output!r}, "
        f"loss={r.loss!r})",
        f"backend {r.backend}, {r.dtype}; m = {r.m} sample{'s' if r.m != 1 else ''}; learning rate lr = {r.lr:g}",
        "Rows are samples: a[l] is (m, n_l), W[l] is (n_(l-1), n_l) and W[l][i, j] joins unit i of layer l-1 "
        "to unit j of layer l.",
        "",
        "Input and target",
        _line("a[0] = x", r.X, d),
        _line("y       ", r.Y, d),
        "",
        "Step 1. Forward pass",
    ]
    for s in r.layers:
        l, g = s.index, s.activation
        where = "output layer" if l == L else "hidden layer"
        out += [
            f"  layer {l} ({where}, {g})",
            _line(f"W[{l}]", s.W, d),
            *([_line(f"b[{l}]", s.b, d)] if s.b is not None else []),
            _line(f"z[{l}] = a[{l - 1}] @ W[{l}]" + (f" + b[{l}]" if s.b is not None else ""), s.z, d),
            _line(f"a[{l}] = {g}(z[{l}])", s.a, d),
        ]
    out += [
        "",
        "Step 2. Cost" + (" (the seed's total error E_total)" if r.loss == "mse" else ""),
        f"    {COST_EQUATIONS.get(r.loss, 'C')} = {_num(r.cost, d)}",
        "",
        "Step 3. Backward pass, from the output layer down",
    ]
    for s in reversed(r.layers):
        l, g = s.index, s.activation
        out.append(f"  layer {l}")
        if l == L:
            if r.fused:
                eq = f"BP1  δ[{l}] = ∂C/∂z[{l}] = (a[{l}] − y) / m   ({g} output with {r.loss}: the matched pair)"
            else:
                eq = f"BP1  δ[{l}] = ∂C/∂a[{l}] ⊙ {g}'(z[{l}]),   {g}' = {DERIVATIVES.get(g, '')}"
                if r.loss == "mse":
                    eq += f",   ∂C/∂a[{l}] = (a[{l}] − y) / m"
        else:
            eq = f"BP2  δ[{l}] = (δ[{l + 1}] @ W[{l + 1}]ᵀ) ⊙ {g}'(z[{l}]),   {g}' = {DERIVATIVES.get(g, '')}"
        out += [
            "    " + eq,
            _line(f"     δ[{l}]", s.delta, d),
            _line(f"BP4  ∂C/∂W[{l}] = a[{l - 1}]ᵀ @ δ[{l}]", s.dW, d),
            *([_line(f"BP3  ∂C/∂b[{l}] = Σ_samples δ[{l}]", s.db, d)] if s.db is not None else []),
        ]
    out += [
        "",
        "Step 4. Update: W[l] ← W[l] − lr·∂C/∂W[l]" + (",  b[l] ← b[l] − lr·∂C/∂b[l]" if r.layers[0].b is not None else "")
        + f"  (lr = {r.lr:g})",
    ]
    for s in r.layers:
        out += [_line(f"W[{s.index}]", s.W_new, d)] + ([_line(f"b[{s.index}]", s.b_new, d)] if s.b_new is not None else [])
    if _n_weights(r) <= MAX_NAMED_WEIGHTS:
        rows = r.named_weights()
        width = max(len(w["from"]) + len(w["to"]) for w in rows) + 3
        out += ["", "  The weights one by one (numbered as the seed numbers them: unit by unit, input by input)",
                f"    {'name':<5} {'W[l][i, j]':<12} {'link':<{width}} {'before':>{d + 4}} {'∂C/∂w':>{d + 4}} "
                f"{'after':>{d + 4}}"]
        for w in rows:
            where = f"W[{w['layer']}][{w['i']}, {w['j']}]"
            link = f"{w['from']} → {w['to']}"
            out.append(f"    {w['name']:<5} {where:<12} {link:<{width}} {_num(w['before'], d):>{d + 4}} "
                       f"{_num(w['grad'], d):>{d + 4}} {_num(w['after'], d):>{d + 4}}")
    out += [
        "",
        f"Cost after the step: {_num(r.cost_after, d)} (before: {_num(r.cost, d)})",
    ]
    if r.seed004:
        out += [
            "Notes: the seed's tutorial keeps its biases fixed; bpx's gradient descent also updates them (BP3).",
            "The seed's program prints other values for w2, w3, w6 and w7: it multiplies δ by the activations",
            "element-wise where BP4 needs the outer product a[l-1]ᵀ @ δ[l]. The values above are the math's",
            "(and those of Mazur's original post).",
        ]
    return "\n".join(out)
