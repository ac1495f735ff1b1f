"""Learning-rate schedules: the rate as a function of the 1-based step count t.

Pass one as ``lr=`` to any optimizer (``bpx.Adam(lr=bpx.schedules.Cosine(1e-3, total_steps=1000,
warmup=100))``); any callable ``lr(t) -> float`` works the same way. The optimizer evaluates it on the
host once per step as the first of its per-step coefficients (:meth:`bpx.Optimizer.coefficients`), so
the eager, compiled (JAX) and Dask engines use the very same rate at every step and nothing recompiles
when it changes. A schedule keeps no state: its position is the optimizer's step count ``t``, which a
checkpoint saves with the optimizer.

Each is written with s = t − 1, the number of steps taken before this one, which is ``last_epoch`` of a
``torch.optim.lr_scheduler`` stepped once per batch: ``Step`` is ``StepLR``, ``MultiStep`` is
``MultiStepLR``, ``Exponential`` is ``ExponentialLR``, ``OneCycle`` is ``OneCycleLR`` (with
``cycle_momentum=False``), and any schedule ``f`` is ``LambdaLR(opt, lambda s: f(s + 1) / lr)``.
"""

from __future__ import annotations

import bisect
import math

from ..utils._validation import check_float, check_int


def _lr(value, name="lr"):
    return check_float(value, name, low=0.0, low_open=True)


def _step(t):
    """``t`` as a 1-based step count (an int >= 1)."""
    return check_int(t, "t (the 1-based step count)")


class Schedule:
    """Base class: a callable ``schedule(t)`` of the 1-based step count with a readable repr."""

    def __call__(self, t):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """lr(t) = lr.

    Parameters
    ----------
    lr : float
        The rate, > 0.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, naming it.
    """

    def __init__(self, lr):
        self.lr = _lr(lr)

    def __call__(self, t):
        _step(t)
        return self.lr


class Step(Schedule):
    """Step decay: lr(t) = lr · γ^⌊(t − 1) / step_size⌋ (torch's ``StepLR`` stepped per batch).

    Parameters
    ----------
    lr : float
        The initial rate, > 0.
    step_size : int
        Steps between decays, >= 1.
    gamma : float
        The factor of each decay, in (0, 1].

    Raises
    ------
    TypeError, ValueError
        For a bad argument, naming it.
    """

    def __init__(self, lr, step_size, gamma=0.1):
        self.lr = _lr(lr)
        self.step_size = check_int(step_size, "step_size")
        self.gamma = check_float(gamma, "gamma", low=0.0, high=1.0, low_open=True)

    def __call__(self, t):
        return self.lr * self.gamma ** ((_step(t) - 1) // self.step_size)


class MultiStep(Schedule):
    """Multi-step decay: lr(t) = lr · γ^k, k the number of milestones <= t − 1 (torch's ``MultiStepLR``).

    Parameters
    ----------
    lr : float
        The initial rate, > 0.
    milestones : sequence of int
        Increasing step counts (>= 1) after which the rate is multiplied by ``gamma``.
    gamma : float
        The factor of each decay, in (0, 1].

    Raises
    ------
    TypeError, ValueError
        For a bad argument, naming it.
    """

    def __init__(self, lr, milestones, gamma=0.1):
        self.lr = _lr(lr)
        if isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__"):
            raise TypeError(f"milestones must be a list of increasing step counts, got {milestones!r}")
        self.milestones = [check_int(m, "milestones[i]") for m in milestones]
        if not self.milestones or any(b <= a for a, b in zip(self.milestones, self.milestones[1:])):
            raise ValueError(f"milestones must be a non-empty, strictly increasing list, got {self.milestones}")
        self.gamma = check_float(gamma, "gamma", low=0.0, high=1.0, low_open=True)

    def __call__(self, t):
        return self.lr * self.gamma ** bisect.bisect_right(self.milestones, _step(t) - 1)


class Exponential(Schedule):
    """Exponential decay: lr(t) = lr · γ^(t − 1) (torch's ``ExponentialLR``).

    Parameters
    ----------
    lr : float
        The initial rate, > 0.
    gamma : float
        The factor per step, in (0, 1].

    Raises
    ------
    TypeError, ValueError
        For a bad argument, naming it.
    """

    def __init__(self, lr, gamma):
        self.lr = _lr(lr)
        self.gamma = check_float(gamma, "gamma", low=0.0, high=1.0, low_open=True)

    def __call__(self, t):
        return self.lr * self.gamma ** (_step(t) - 1)


class InverseScaling(Schedule):
    """Inverse scaling: lr(t) = lr / t^power_t (scikit-learn's ``invscaling`` of ``SGDClassifier``).

    scikit-learn's MLP applies its ``invscaling`` once per epoch with t the samples seen (bpx.sklearn
    does the same); this schedule is its per-step form.

    Parameters
    ----------
    lr : float
        The initial rate, > 0.
    power_t : float
        The exponent, >= 0.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, naming it.
    """

    def __init__(self, lr, power_t=0.5):
        self.lr = _lr(lr)
        self.power_t = check_float(power_t, "power_t", low=0.0)

    def __call__(self, t):
        return self.lr / _step(t) ** self.power_t


class Cosine(Schedule):
    """Cosine decay with linear warmup: lr · t / warmup for t <= warmup, then
    min_lr + (lr − min_lr) · (1 + cos(π (t − warmup) / (total_steps − warmup))) / 2, and min_lr after
    ``total_steps``.

    Parameters
    ----------
    lr : float
        The peak rate, > 0.
    total_steps : int
        The step at which the decay reaches ``min_lr`` (> ``warmup``).
    warmup : int
        Steps of linear warmup, >= 0.
    min_lr : float
        The final rate, in [0, lr].

    Raises
    ------
    TypeError, ValueError
        For a bad argument, naming it.
    """

    def __init__(self, lr, total_steps, warmup=0, min_lr=0.0):
        self.lr = _lr(lr)
        self.total_steps = check_int(total_steps, "total_steps")
        self.warmup = check_int(warmup, "warmup", minimum=0)
        if self.warmup >= self.total_steps:
            raise ValueError(f"warmup must be less than total_steps, got warmup={self.warmup}, "
                             f"total_steps={self.total_steps}")
        self.min_lr = check_float(min_lr, "min_lr", low=0.0, high=self.lr)

    def __call__(self, t):
        t = _step(t)
        if t <= self.warmup:
            return self.lr * t / self.warmup
        if t >= self.total_steps:
            return self.min_lr
        progress = (t - self.warmup) / (self.total_steps - self.warmup)
        return self.min_lr + (self.lr - self.min_lr) * (1.0 + math.cos(math.pi * progress)) / 2.0


class OneCycle(Schedule):
    """The one-cycle policy (Smith), as torch's ``OneCycleLR`` (two phases, ``cycle_momentum=False``):
    from max_lr / div_factor up to max_lr over the first ``pct_start`` of ``total_steps``, then down to
    max_lr / (div_factor · final_div_factor), each by a half cosine (``anneal="cos"``) or linearly
    (``"linear"``). After ``total_steps`` the rate stays at its final value.

    Parameters
    ----------
    max_lr : float
        The peak rate, > 0.
    total_steps : int
        The cycle's length in steps, >= 2.
    pct_start : float
        The fraction of the cycle spent rising, in (0, 1).
    div_factor : float
        The initial rate is max_lr / div_factor (> 0).
    final_div_factor : float
        The final rate is the initial one / final_div_factor (> 0).
    anneal : {"cos", "linear"}
        The shape of each phase.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, naming it.
    """

    def __init__(self, max_lr, total_steps, pct_start=0.3, div_factor=25.0, final_div_factor=1e4, anneal="cos"):
        self.max_lr = _lr(max_lr, "max_lr")
        self.total_steps = check_int(total_steps, "total_steps", minimum=2)
        self.pct_start = check_float(pct_start, "pct_start", low=0.0, high=1.0, low_open=True, high_open=True)
        self.div_factor = check_float(div_factor, "div_factor", low=0.0, low_open=True)
        self.final_div_factor = check_float(final_div_factor, "final_div_factor", low=0.0, low_open=True)
        if anneal not in ("cos", "linear"):
            raise ValueError(f"anneal must be 'cos' or 'linear', got {anneal!r}")
        self.anneal = anneal
        rise_end = float(self.pct_start * self.total_steps) - 1
        if rise_end <= 0 or rise_end >= self.total_steps - 1:
            raise ValueError(f"pct_start={self.pct_start} leaves an empty phase in a cycle of total_steps="
                             f"{self.total_steps} steps")

    def _anneal(self, start, end, pct):
        if self.anneal == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def __call__(self, t):
        s = min(_step(t) - 1, self.total_steps - 1)
        initial = self.max_lr / self.div_factor
        phases = [(float(self.pct_start * self.total_steps) - 1, initial, self.max_lr),
                  (self.total_steps - 1, self.max_lr, initial / self.final_div_factor)]
        start_step = 0
        for i, (end_step, start_lr, end_lr) in enumerate(phases):
            if s <= end_step or i == len(phases) - 1:
                return self._anneal(start_lr, end_lr, (s - start_step) / (end_step - start_step))
            start_step = end_step
        raise AssertionError("unreachable")


SCHEDULES = {"constant": Constant, "step": Step, "multistep": MultiStep, "exponential": Exponential,
             "invscaling": InverseScaling, "cosine": Cosine, "onecycle": OneCycle}
