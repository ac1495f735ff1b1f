"""Optimizers: the update rule ``W[l] -= lr * dW[l]`` and its momentum and Adam refinements.

``step(params, grads)`` returns the updated parameter list; the optimizer keeps its state (velocities,
moments) and step count. The rule itself is the pure function ``update(params, grads, state, coefs)
-> (params, state)`` (state in, state out), which is what a compiled training step runs (see
:mod:`bpx.step`). On NumPy, CuPy and PyTorch the arrays are updated in place (fewer temporaries, no
reallocation); on any other namespace new arrays are returned (the generic array-API path). Both
paths perform the same floating-point operations in the same order,
and the test suite checks that they give identical numbers. Weight decay is L2 regularisation
``λ/2 ‖W‖²`` added to the gradient of the weight matrices (not the biases); the loss the network
reports is the data loss without it. :class:`AdamW` decays the weight matrices directly instead
(decoupled: ``W ← W (1 − lr λ)``).

The learning rate ``lr`` is a number or a schedule, a callable ``lr(t)`` of the 1-based step count
(:mod:`bpx.schedules`). It reaches the rule as the first of the per-step coefficients
(:meth:`Optimizer.coefficients`, evaluated on the host), so eager, compiled and Dask training get the
very same rate at every step and a compiled epoch never recompiles when the rate changes.
``clip_norm`` / ``clip_value`` clip the gradients inside :meth:`Optimizer.update` (:mod:`bpx.clipping`).
The arguments of :class:`AdamW`, :class:`RMSprop` and :class:`Adagrad` are torch.optim's, with its
defaults (betas named ``beta1``/``beta2``), and their updates follow torch.optim's operation for
operation.
"""

from __future__ import annotations

import math
import numbers

import array_api_compat

from ..backends._backend import inplace_ok, namespace, to_numpy
from ..utils._validation import check_bool, check_float
from ._clipping import check_clip, clip_gradients


def check_lr(lr, name="lr"):
    """A learning rate: a finite number > 0, or a schedule (a callable of the 1-based step count)."""
    if callable(lr) and not isinstance(lr, type):
        return lr
    if isinstance(lr, numbers.Real) and not isinstance(lr, bool):
        return check_float(lr, name, low=0.0, low_open=True)
    raise TypeError(f"{name} must be a number > 0 or a schedule (a callable lr(t) of the step count, such as "
                    f"bpx.schedules.Cosine(...)), got {lr!r} ({type(lr).__name__})")


class Optimizer:
    """Base class: holds per-parameter state, created on the first step.

    Subclasses set ``self.lr`` (:func:`check_lr`) and implement :meth:`_update`; those with more
    per-step scalars than the rate extend :meth:`coefficients`.
    """

    decoupled = False  # weight decay added to the gradient (L2); AdamW: applied to the weights directly

    def __init__(self, weight_decay, inplace, clip_norm=None, clip_value=None):
        self.weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
        if inplace is not None:
            check_bool(inplace, "inplace")
        self.inplace = inplace
        self.clip_norm = check_clip(clip_norm, "clip_norm")
        self.clip_value = check_clip(clip_value, "clip_value")
        self._shapes = None

    def reset(self):
        """Forget the state (velocities, moments, step count)."""
        self._shapes = None
        self._state = None

    @property
    def prepared(self):
        """Whether this optimizer holds a state for a parameter list (:meth:`prepare` made one)."""
        return self._shapes is not None

    @property
    def state(self):
        """The state of the stateful interface (``{slot: [one array per parameter]}``, None before
        :meth:`prepare`): what :meth:`update` takes and returns. Engines set it after a functional step."""
        return self._state if self._shapes is not None else None

    @state.setter
    def state(self, state):
        self._state = state

    def _slots(self, params):
        """Per-parameter state arrays; override."""
        return {}

    # -- the update rule as a pure function (what a compiled training step runs) ---------------------
    def init(self, params):
        """A fresh optimizer state for ``params``: ``{slot name: [one array per parameter]}``."""
        return self._slots(params)

    def rate(self, t):
        """The learning rate of step ``t`` (1-based): ``lr``, or ``lr(t)`` for a schedule.

        Raises
        ------
        ValueError
            When a schedule returns something other than a finite number >= 0.
        """
        lr = self.lr
        if not callable(lr):
            return lr
        value = lr(t)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
            raise ValueError(f"the learning-rate schedule {lr!r} returned {value!r} at step {t}; "
                             f"it must return a finite number >= 0")
        return float(value)

    def coefficients(self, t):
        """The per-step scalars of step ``t`` (1-based) as Python floats: the learning rate first, then
        the rule's own (Adam's bias corrections). The step count lives on the host, so a compiled epoch
        gets them as inputs and every engine uses the very same numbers."""
        return (self.rate(t),)

    def math_key(self):
        """What a compiled rule depends on: the type and every hyperparameter but the learning rate
        (a per-step input, :meth:`coefficients`), so a new rate compiles nothing."""
        return (type(self).__name__,) + tuple(
            (k, repr(v)) for k, v in sorted(vars(self).items()) if not k.startswith("_") and k not in ("t", "lr"))

    def update(self, params, grads, state, coefs=(), inplace=False):
        """One update of every parameter: ``(params, grads, state) -> (params, state)``, with ``coefs``
        from :meth:`coefficients`. A pure function unless ``inplace`` (numpy/cupy/torch's fast path),
        which overwrites the arrays of ``params`` and ``state`` instead of making new ones. The gradients
        are clipped first (``clip_norm``, ``clip_value``; no host sync), then weight decay applies."""
        if self.clip_norm is not None or self.clip_value is not None:
            grads = clip_gradients(grads, self.clip_norm, self.clip_value)
        if inplace and self._plain():  # fast path: plain SGD in place, one statement per parameter
            lr = coefs[0]
            for p, g in zip(params, grads):
                p -= lr * g
            return list(params), state
        state = {name: list(arrays) for name, arrays in state.items()}  # new lists: the caller's stay as they were
        new = []
        for i, (p, g) in enumerate(zip(params, grads)):
            if self.weight_decay and p.ndim == 2 and not self.decoupled:
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
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                         if not k.startswith("_") and k != "t" and not (k.startswith("clip_") and v is None))
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

    The velocity form of scikit-learn (and of Sutskever et al.): with a constant ``lr`` it is
    torch.optim.SGD's ``b ← μ b + g, W ← W − lr b``; with a schedule the two differ (here the rate of
    each step scales that step's gradient, there the whole buffer).

    Parameters
    ----------
    lr : float or callable
        The learning rate, or a schedule ``lr(t)`` of the 1-based step count (:mod:`bpx.schedules`).
    momentum : float
        μ in [0, 1).
    nesterov : bool
        Nesterov's momentum (needs ``momentum > 0``).
    weight_decay : float
        L2 penalty λ on the weight matrices (added to their gradient as λ W).
    inplace : bool or None
        Update the arrays in place (None: where the library can).
    clip_norm, clip_value : float or None
        Clip the gradients by global norm / by value first (:mod:`bpx.clipping`).

    Raises
    ------
    TypeError, ValueError
        For an argument of the wrong kind or out of range, naming it.
    """

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, inplace=None, clip_norm=None,
                 clip_value=None):
        super().__init__(weight_decay, inplace, clip_norm, clip_value)
        self.lr = check_lr(lr)
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
        lr, mu = coefs[0], self.momentum
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

    Parameters
    ----------
    lr : float or callable
        The learning rate, or a schedule ``lr(t)`` of the 1-based step count (:mod:`bpx.schedules`).
    beta1, beta2 : float
        The moments' decay rates, in [0, 1).
    eps : float
        ε > 0.
    weight_decay : float
        L2 penalty λ on the weight matrices (added to their gradient; :class:`AdamW` decouples it).
    inplace : bool or None
        Update the arrays in place (None: where the library can).
    clip_norm, clip_value : float or None
        Clip the gradients by global norm / by value first (:mod:`bpx.clipping`).

    Raises
    ------
    TypeError, ValueError
        For an argument of the wrong kind or out of range, naming it.
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, inplace=None, clip_norm=None,
                 clip_value=None):
        super().__init__(weight_decay, inplace, clip_norm, clip_value)
        self.lr = check_lr(lr)
        self.beta1 = check_float(beta1, "beta1", low=0.0, high=1.0, high_open=True)
        self.beta2 = check_float(beta2, "beta2", low=0.0, high=1.0, high_open=True)
        self.eps = check_float(eps, "eps", low=0.0, low_open=True)

    def _slots(self, params):
        xp = array_api_compat.array_namespace(*params)
        return {"m": [xp.zeros_like(p) for p in params], "v": [xp.zeros_like(p) for p in params]}

    def coefficients(self, t):
        """The rate, then the bias corrections 1 − β1^t and 1 − β2^t."""
        return (self.rate(t), 1.0 - self.beta1**t, 1.0 - self.beta2**t)

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
        if self.decoupled and self.weight_decay and p.ndim == 2:  # AdamW: W ← W (1 − lr λ), before the step
            if inplace:
                p *= 1.0 - coefs[0] * self.weight_decay
            else:
                p = p * (1.0 - coefs[0] * self.weight_decay)
        m_hat = m / coefs[1]
        v_hat = v / coefs[2]
        step = coefs[0] * m_hat / (xp.sqrt(v_hat) + self.eps)
        if inplace:
            p -= step
            return p
        return p - step


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``: each step first
    shrinks the weight matrices, W ← W (1 − lr λ) (biases are not decayed), then takes Adam's step
    on the plain gradient.

    Parameters
    ----------
    lr : float or callable
        The learning rate, or a schedule ``lr(t)`` of the 1-based step count (:mod:`bpx.schedules`).
    beta1, beta2 : float
        The moments' decay rates, in [0, 1).
    eps : float
        ε > 0.
    weight_decay : float
        λ >= 0 (torch's default 0.01).
    inplace : bool or None
        Update the arrays in place (None: where the library can).
    clip_norm, clip_value : float or None
        Clip the gradients by global norm / by value first (:mod:`bpx.clipping`).

    Raises
    ------
    TypeError, ValueError
        For an argument of the wrong kind or out of range, naming it.
    """

    decoupled = True

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2, inplace=None, clip_norm=None,
                 clip_value=None):
        super().__init__(lr, beta1, beta2, eps, weight_decay, inplace, clip_norm, clip_value)


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``: s ← α s + (1−α) g²; centered: ḡ ← ḡ + (1−α)(g − ḡ) and
    d = √(s − ḡ²) + ε, else d = √s + ε; with momentum μ: b ← μ b + g/d, W ← W − lr b; else
    W ← W − lr g/d. ``weight_decay`` λ adds λ W to the gradient of the weight matrices.

    Parameters
    ----------
    lr : float or callable
        The learning rate (torch's default 0.01), or a schedule ``lr(t)`` (:mod:`bpx.schedules`).
    alpha : float
        The smoothing constant α, in [0, 1).
    eps : float
        ε > 0.
    momentum : float
        μ in [0, 1).
    centered : bool
        Normalise by the estimated variance instead of the second moment.
    weight_decay : float
        L2 penalty λ on the weight matrices.
    inplace : bool or None
        Update the arrays in place (None: where the library can).
    clip_norm, clip_value : float or None
        Clip the gradients by global norm / by value first (:mod:`bpx.clipping`).

    Raises
    ------
    TypeError, ValueError
        For an argument of the wrong kind or out of range, naming it.
    """

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, momentum=0.0, centered=False, weight_decay=0.0, inplace=None,
                 clip_norm=None, clip_value=None):
        super().__init__(weight_decay, inplace, clip_norm, clip_value)
        self.lr = check_lr(lr)
        self.alpha = check_float(alpha, "alpha", low=0.0, high=1.0, high_open=True)
        self.eps = check_float(eps, "eps", low=0.0, low_open=True)
        self.momentum = check_float(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        self.centered = check_bool(centered, "centered")

    def _slots(self, params):
        xp = array_api_compat.array_namespace(*params)
        slots = {"square_avg": [xp.zeros_like(p) for p in params]}
        if self.centered:
            slots["grad_avg"] = [xp.zeros_like(p) for p in params]
        if self.momentum:
            slots["momentum_buffer"] = [xp.zeros_like(p) for p in params]
        return slots

    def _update(self, i, p, g, state, coefs, inplace):
        xp = namespace(p)
        lr, a = coefs[0], self.alpha
        s = state["square_avg"][i]
        if inplace:
            s *= a
            s += (1.0 - a) * (g * g)
        else:
            s = state["square_avg"][i] = a * s + (1.0 - a) * (g * g)
        if self.centered:
            ga = state["grad_avg"][i]
            if inplace:
                ga += (1.0 - a) * (g - ga)
            else:
                ga = state["grad_avg"][i] = ga + (1.0 - a) * (g - ga)
            d = xp.sqrt(s - ga * ga) + self.eps
        else:
            d = xp.sqrt(s) + self.eps
        if self.momentum:
            b = state["momentum_buffer"][i]
            if inplace:
                b *= self.momentum
                b += g / d
            else:
                b = state["momentum_buffer"][i] = self.momentum * b + g / d
            step = lr * b
        else:
            step = lr * (g / d)
        if inplace:
            p -= step
            return p
        return p - step


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), as ``torch.optim.Adagrad``: s ← s + g²;
    W ← W − lr_t g / (√s + ε) with lr_t = lr / (1 + (t − 1) · lr_decay), s starting at
    ``initial_accumulator_value``. ``weight_decay`` λ adds λ W to the gradient of the weight matrices.

    Parameters
    ----------
    lr : float or callable
        The learning rate (torch's default 0.01), or a schedule ``lr(t)`` (:mod:`bpx.schedules`).
    lr_decay : float
        >= 0.
    eps : float
        ε > 0.
    initial_accumulator_value : float
        The accumulator's start, >= 0.
    weight_decay : float
        L2 penalty λ on the weight matrices.
    inplace : bool or None
        Update the arrays in place (None: where the library can).
    clip_norm, clip_value : float or None
        Clip the gradients by global norm / by value first (:mod:`bpx.clipping`).

    Raises
    ------
    TypeError, ValueError
        For an argument of the wrong kind or out of range, naming it.
    """

    def __init__(self, lr=1e-2, lr_decay=0.0, eps=1e-10, initial_accumulator_value=0.0, weight_decay=0.0,
                 inplace=None, clip_norm=None, clip_value=None):
        super().__init__(weight_decay, inplace, clip_norm, clip_value)
        self.lr = check_lr(lr)
        self.lr_decay = check_float(lr_decay, "lr_decay", low=0.0)
        self.eps = check_float(eps, "eps", low=0.0, low_open=True)
        self.initial_accumulator_value = check_float(initial_accumulator_value, "initial_accumulator_value", low=0.0)

    def _slots(self, params):
        xp = array_api_compat.array_namespace(*params)
        return {"sum": [xp.full_like(p, self.initial_accumulator_value) for p in params]}

    def coefficients(self, t):
        """The decayed rate lr(t) / (1 + (t − 1) · lr_decay)."""
        return (self.rate(t) / (1.0 + (t - 1) * self.lr_decay),)

    def _update(self, i, p, g, state, coefs, inplace):
        xp = namespace(p)
        s = state["sum"][i]
        if inplace:
            s += g * g
        else:
            s = state["sum"][i] = s + g * g
        step = coefs[0] * (g / (xp.sqrt(s) + self.eps))
        if inplace:
            p -= step
            return p
        return p - step


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}
