"""Optimizers: the update rule ``W[l] -= lr * dW[l]`` and its momentum and Adam refinements.

``step(params, grads)`` returns the updated parameter list; the optimizer keeps its state (velocities,
moments) and step count. The rule itself is the pure function ``update(params, grads, state, coefs)
-> (params, state)`` (state in, state out), which is what a compiled training step runs (see
:mod:`bpx.step`). On NumPy, CuPy and PyTorch the arrays are updated in place (fewer temporaries, no
reallocation); on any other namespace new arrays are returned (the generic array-API path). Both
paths perform the same floating-point operations in the same order,
and the test suite checks that they give identical numbers. Weight decay is L2 regularisation
``λ/2 ‖W‖²`` added to the gradient of the weight matrices (not the biases); the loss the network
reports is the data loss without it.
"""

from __future__ import annotations

import array_api_compat

from .backend import inplace_ok, namespace, to_numpy
from .validation import check_bool, check_float


class Optimizer:
    """Base class: holds per-parameter state, created on the first step."""

    def __init__(self, weight_decay, inplace):
        self.weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
        if inplace is not None:
            check_bool(inplace, "inplace")
        self.inplace = inplace
        self._shapes = None

    def reset(self):
        """Forget the state (velocities, moments, step count)."""
        self._shapes = None

    def _slots(self, params):
        """Per-parameter state arrays; override."""
        return {}

    # -- the update rule as a pure function (what a compiled training step runs) ---------------------
    def init(self, params):
        """A fresh optimizer state for ``params``: ``{slot name: [one array per parameter]}``."""
        return self._slots(params)

    def coefficients(self, t):
        """The per-step scalars that depend on the step count ``t`` (Adam's bias corrections), as Python
        floats: the step count lives on the host, so a compiled epoch gets them as inputs."""
        return ()

    def update(self, params, grads, state, coefs=(), inplace=False):
        """One update of every parameter: ``(params, grads, state) -> (params, state)``, with ``coefs``
        from :meth:`coefficients`. A pure function unless ``inplace`` (numpy/cupy/torch's fast path),
        which overwrites the arrays of ``params`` and ``state`` instead of making new ones."""
        if inplace and self._plain():  # fast path: plain SGD in place, one statement per parameter
            lr = self.lr
            for p, g in zip(params, grads):
                p -= lr * g
            return list(params), state
        state = {name: list(arrays) for name, arrays in state.items()}  # new lists: the caller's stay as they were
        new = []
        for i, (p, g) in enumerate(zip(params, grads)):
            if self.weight_decay and p.ndim == 2:
                g = g + self.weight_decay * p
            new.append(self._update(i, p, g, state, coefs, inplace))
        return new, state

    # -- the stateful interface: the optimizer keeps its state and step count --------------------------
    def prepare(self, params):
        """Check ``params`` are the ones this optimizer trains (creating its state on first use) and
        return its state."""
        shapes = [tuple(p.shape) for p in params]
        if self._shapes is None:
            self._shapes = shapes
            self._state = self.init(params)
            self.t = 0
        elif shapes != self._shapes:
            raise ValueError(
                f"this {type(self).__name__} was used with parameters of shapes {self._shapes}, "
                f"now it gets {shapes}; use a new optimizer (or call reset()) for another network"
            )
        return self._state

    def use_inplace(self, params):
        """Whether to take the in-place fast path on ``params`` (``inplace=None``: when their library can)."""
        return self.inplace if self.inplace is not None else all(inplace_ok(p) for p in params)

    def step(self, params, grads):
        """One update of every parameter from its gradient; returns the new parameter list."""
        state = self.prepare(params)
        self.t += 1
        new, self._state = self.update(params, grads, state, self.coefficients(self.t), self.use_inplace(params))
        return new

    def _update(self, i, p, g, state, coefs, inplace):
        """The rule for parameter ``i``; reads and replaces its slots in ``state``."""
        raise NotImplementedError

    def _plain(self):
        """True for an update that is exactly ``p -= lr * g`` (plain SGD, no weight decay)."""
        return False

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_") and k != "t")
        return f"{type(self).__name__}({args})"

    # -- checkpoints (bpx.training): everything the next step depends on, as host values --------------
    def state_dict(self):
        """The hyperparameters (numbers, flags and strings: a callback may have changed ``lr``), the step
        count ``t`` and the state arrays as fresh host (NumPy) copies, ``{"type", "hyper", "t", "shapes",
        "state"}``; :meth:`load_state_dict` puts them back."""
        hyper = {k: v for k, v in vars(self).items()
                 if not k.startswith("_") and k != "t" and (v is None or isinstance(v, (bool, int, float, str)))}
        state = getattr(self, "_state", None) if self._shapes is not None else None
        return {"type": type(self).__name__, "hyper": hyper, "t": getattr(self, "t", 0),
                "shapes": None if self._shapes is None else [list(s) for s in self._shapes],
                "state": None if state is None else {k: [to_numpy(a) for a in arrays] for k, arrays in state.items()}}

    def load_state_dict(self, state, asarray):
        """Restore :meth:`state_dict`'s ``state``; ``asarray`` moves a host array to the parameters' device.

        Raises
        ------
        ValueError
            When ``state`` belongs to another optimizer class.
        """
        if state.get("type") != type(self).__name__:
            raise ValueError(f"the optimizer state is a {state.get('type')}'s, not a {type(self).__name__}'s")
        for key, value in state["hyper"].items():
            setattr(self, key, value)
        self.t = state["t"]
        self._shapes = None if state["shapes"] is None else [tuple(s) for s in state["shapes"]]
        self._state = None if state["state"] is None else {k: [asarray(a) for a in arrays]
                                                           for k, arrays in state["state"].items()}


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum μ:

    v ← μ v − lr g;  W ← W + v   (Nesterov: W ← W + μ v − lr g);  plain: W ← W − lr g.
    """

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, inplace=None):
        super().__init__(weight_decay, inplace)
        self.lr = check_float(lr, "lr", low=0.0, low_open=True)
        self.momentum = check_float(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        self.nesterov = check_bool(nesterov, "nesterov")
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0, got momentum=0.0")

    def _slots(self, params):
        xp = array_api_compat.array_namespace(*params)
        return {"v": [xp.zeros_like(p) for p in params]} if self.momentum else {}

    def _plain(self):
        return not self.momentum and not self.weight_decay

    def _update(self, i, p, g, state, coefs, inplace):
        lr, mu = self.lr, self.momentum
        if not mu:
            if inplace:
                p -= lr * g
                return p
            return p - lr * g
        v = state["v"][i]
        if inplace:
            v *= mu
            v -= lr * g
        else:
            v = state["v"][i] = mu * v - lr * g
        step = mu * v - lr * g if self.nesterov else v
        if inplace:
            p += step
            return p
        return p + step


class Adam(Optimizer):
    """Adam (Kingma & Ba): m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;
    W ← W − lr · m̂ / (√v̂ + ε), with m̂ = m / (1−β1^t) and v̂ = v / (1−β2^t).
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, inplace=None):
        super().__init__(weight_decay, inplace)
        self.lr = check_float(lr, "lr", low=0.0, low_open=True)
        self.beta1 = check_float(beta1, "beta1", low=0.0, high=1.0, high_open=True)
        self.beta2 = check_float(beta2, "beta2", low=0.0, high=1.0, high_open=True)
        self.eps = check_float(eps, "eps", low=0.0, low_open=True)

    def _slots(self, params):
        xp = array_api_compat.array_namespace(*params)
        return {"m": [xp.zeros_like(p) for p in params], "v": [xp.zeros_like(p) for p in params]}

    def coefficients(self, t):
        """The bias corrections 1 − β1^t and 1 − β2^t."""
        return (1.0 - self.beta1**t, 1.0 - self.beta2**t)

    def _update(self, i, p, g, state, coefs, inplace):
        xp = namespace(p)
        b1, b2 = self.beta1, self.beta2
        m, v = state["m"][i], state["v"][i]
        if inplace:
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
        else:
            m = state["m"][i] = b1 * m + (1.0 - b1) * g
            v = state["v"][i] = b2 * v + (1.0 - b2) * (g * g)
        m_hat = m / coefs[0]
        v_hat = v / coefs[1]
        step = self.lr * m_hat / (xp.sqrt(v_hat) + self.eps)
        if inplace:
            p -= step
            return p
        return p - step


OPTIMIZERS = {"sgd": SGD, "adam": Adam}
