"""Dynamic loss scaling for float16 mixed precision (``precision="fp16"``), as torch.amp's GradScaler does it.

float16 has 5 exponent bits: its smallest normal number is 2^-14 ≈ 6e-5, so small gradients flush to
zero in the float16 products of the backward pass. Loss scaling multiplies the cost's gradient by a
scale S before the backward pass (BP1's output delta dZ[L] times S), which lifts the deltas of every
layer into float16's range, and divides the gradients by S before the update:

    dZ[L] ← S · dZ[L];  BP2–BP4 as usual;  g ← g / S;  update with g, unless some g is not finite.

S is dynamic (:class:`LossScaler`): when any gradient is NaN or infinite (a product overflowed
float16's 65504) the step is skipped — the parameters and the optimizer's state arrays stay as they
were — and S is multiplied by ``backoff_factor`` (halved); after ``growth_interval`` consecutive good
steps S is multiplied by ``growth_factor`` (doubled). S starts at ``init_scale`` (2^16), so the first
few steps of a run are typically skipped while S finds its level.

The decision never leaves the device: the update is computed and then chosen with ``xp.where``
against the old values, so a compiled JAX epoch runs it inside ``lax.scan`` with no host sync, and
every other backend runs the same generic code. S and the good-step counter are 0-d arrays in the
network's dtype, kept in the optimizer's state under :data:`SCALE` and :data:`GOOD` (one-element lists,
like a slot), so they are saved by ``Optimizer.state_dict()`` and by training checkpoints, and a
resumed run continues bit for bit.

The optimizer's step count ``t`` counts every step, skipped ones included: the learning-rate schedule
and Adam's bias corrections are per-step host coefficients, computed before a compiled epoch runs
(torch's ``optimizer.step`` skipped by its GradScaler does not advance Adam's own count; its
learning-rate scheduler, stepped once per iteration, does advance).
"""

from __future__ import annotations

import array_api_compat

from ..backends._backend import namespace
from ..nn._functional import loss_and_grads
from ..utils._validation import check_float, check_int

SCALE, GOOD = "loss_scale", "good_steps"  # the scaler's entries in the optimizer's state


class LossScaler:
    """The settings of dynamic loss scaling (torch.amp.GradScaler's arguments and defaults).

    Parameters
    ----------
    init_scale : float
        The first scale S, > 0 (default 2^16).
    growth_factor : float
        S is multiplied by it after ``growth_interval`` consecutive good steps, > 1 (default 2).
    backoff_factor : float
        S is multiplied by it when a gradient is not finite, in (0, 1) (default 0.5).
    growth_interval : int
        Consecutive good steps before S grows, >= 1 (default 2000).

    Raises
    ------
    TypeError, ValueError
        For an argument of the wrong kind or out of range, naming it.
    """

    def __init__(self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000):
        self.init_scale = check_float(init_scale, "init_scale", low=0.0, low_open=True)
        self.growth_factor = check_float(growth_factor, "growth_factor", low=1.0, low_open=True)
        self.backoff_factor = check_float(backoff_factor, "backoff_factor", low=0.0, high=1.0, low_open=True,
                                          high_open=True)
        self.growth_interval = check_int(growth_interval, "growth_interval", minimum=1)
        if self.growth_interval > 2**24:  # the counter is a float32 array: exact up to 2^24
            raise ValueError(f"growth_interval must be <= 2**24, got {growth_interval!r}")

    def _args(self):
        return {k: v for k, v in vars(self).items() if v != DEFAULTS[k]}

    def __repr__(self):
        return f"LossScaler({', '.join(f'{k}={v!r}' for k, v in self._args().items())})"

    def __eq__(self, other):
        return isinstance(other, LossScaler) and vars(self) == vars(other)

    def __hash__(self):
        return hash(tuple(sorted(vars(self).items())))

    def init(self, like):
        """The scaler's fresh state ``{SCALE: [S], GOOD: [0]}``: 0-d arrays of ``like``'s dtype and device."""
        xp, device = namespace(like), array_api_compat.device(like)
        return {SCALE: [xp.full((), self.init_scale, dtype=like.dtype, device=device)],
                GOOD: [xp.zeros((), dtype=like.dtype, device=device)]}

    def next(self, scale, good, finite):
        """The scaler's state after a step: GradScaler's update of (S, counter) from ``finite``, a 0-d
        boolean array (all gradients finite), as device arithmetic."""
        xp = namespace(scale)
        counted = good + 1.0
        grow = counted >= self.growth_interval
        grown = scale * self.growth_factor
        grown = xp.where(xp.isfinite(grown), grown, scale)  # S never grows to infinity
        new_scale = xp.where(finite, xp.where(grow, grown, scale), scale * self.backoff_factor)
        new_good = xp.where(finite & ~grow, counted, xp.zeros_like(good))
        return {SCALE: [new_scale], GOOD: [new_good]}


DEFAULTS = {"init_scale": 2.0**16, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000}


def check_loss_scaler(loss_scaler, precision):
    """``loss_scaler`` as given to :class:`bpx.MLP`: the settings for ``precision="fp16"`` (None: the
    defaults), None for any other precision.

    Raises
    ------
    TypeError, ValueError
        For something other than a :class:`LossScaler`, or one given without ``precision="fp16"``.
    """
    if loss_scaler is not None and not isinstance(loss_scaler, LossScaler):
        raise TypeError(f"loss_scaler must be None or a bpx.LossScaler(...), got {loss_scaler!r} "
                        f"({type(loss_scaler).__name__})")
    if precision != "fp16":
        if loss_scaler is not None:
            raise ValueError(f"loss_scaler applies to precision='fp16' only, got precision={precision!r}")
        return None
    return LossScaler() if loss_scaler is None else loss_scaler


def with_scaler_state(scaler, state, params):
    """``state`` with the scaler's entries added when it has none yet (a fresh optimizer state)."""
    if SCALE in state:
        return state
    return dict(state, **scaler.init(params[0]))


def scaled_step(net, optimizer, params, state, coefs, X, Y, weights=None, masks=None):
    """:func:`bpx.step.step` with dynamic loss scaling (see the module docstring), always the generic
    (not in-place) update: the old values are needed when the step is skipped. ``net`` computes on
    ``params``. Returns (params, state, cost, A[L]), the cost unscaled."""
    scaler = net.loss_scaler
    scale, good = state[SCALE][0], state[GOOD][0]
    rule_state = {k: v for k, v in state.items() if k not in (SCALE, GOOD)}
    cost, grads, A_L = loss_and_grads(net, params, X, Y, weights, masks, scale=scale)  # BP1's delta times S
    xp = namespace(scale)
    inverse = 1.0 / scale
    grads = [g * inverse for g in grads]
    finite = xp.all(xp.stack([xp.all(xp.isfinite(g)) for g in grads]))
    new_params, new_state = optimizer.update(params, grads, rule_state, coefs, False)
    params = [xp.where(finite, new, old) for new, old in zip(new_params, params)]
    state = {k: [xp.where(finite, new, old) for new, old in zip(new_state[k], rule_state[k])] for k in new_state}
    state.update(scaler.next(scale, good, finite))
    return params, state, cost, A_L

