"""L-BFGS: the limited-memory quasi-Newton method, full batch, with a strong-Wolfe line search.

One iteration (Nocedal & Wright, Numerical Optimization, alg. 7.4 and 7.5), on the parameters θ
flattened into one vector (W1, b1, W2, b2, ... in order) and the full-batch cost C(θ) with its
backprop gradient g = ∇C (the functional core's ``loss_and_grads``):

    direction      d = −H g, H g by the two-loop recursion over the last ``history_size`` pairs
                   s_k = θ_{k+1} − θ_k, y_k = g_{k+1} − g_k, with H_0 = (sᵀy / yᵀy) I
    step           θ ← θ + t d, t satisfying the strong Wolfe conditions
                   C(θ + t d) ≤ C(θ) + c1 t gᵀd   and   |∇C(θ + t d)ᵀd| ≤ c2 |gᵀd|
                   found by bracketing and cubic interpolation (the line search of SciPy's
                   ``line_search_wolfe2`` and of ``torch.optim.LBFGS``'s ``_strong_wolfe``, which is
                   ported from minFunc); the first step of a fresh history is t = 1/‖d‖₂ (as L-BFGS-B)
    stop           max|g| ≤ tol (SciPy's ``gtol``), or a relative decrease
                   (C_k − C_{k+1}) / max(|C_k|, |C_{k+1}|, 1) ≤ ftol (SciPy's default 2.2e-9; at least
                   the dtype's machine epsilon, 1.2e-7 in float32), or
                   ``max_iter`` (the ``epochs`` of ``fit``) iterations, or ``max_fun`` cost evaluations

The vectors live on the network's device and the two-loop recursion keeps its scalars there too;
the line search is scalar logic on the host: each cost evaluation brings back four numbers (C, the
data C, gᵀd and max|g|) in one device→host transfer, and each iteration two more (gᵀd of the new
direction, yᵀs of the new pair; and its accuracy / validation cost for the history). These syncs are
inherent to L-BFGS (the next trial step depends on those numbers); everything else is array-API math,
so the same code runs on NumPy, CuPy, PyTorch and array-api-strict. ``weight_decay`` λ adds λ/2 ‖W‖² (weight
matrices only) to the cost the line search minimises; histories report the data cost without it.

The training loop (:mod:`bpx.training`) drives it: :meth:`LBFGS.begin` evaluates the starting point,
each epoch is one :meth:`LBFGS.iterate`. The cost evaluations come from the engine's objective
(:class:`Objective` here, eager; a compiled one on JAX; one Dask graph per evaluation on dask arrays),
so one L-BFGS runs on every engine.
"""

from __future__ import annotations

import math

from ..backends._backend import namespace, to_numpy
from ..nn._functional import loss_and_grads
from ..utils._validation import check_float, check_int
from ._first_order import Optimizer

C1, C2 = 1e-4, 0.9  # the strong Wolfe constants (sufficient decrease, curvature), as SciPy and torch


class LBFGS(Optimizer):
    """Limited-memory BFGS for ``net.fit(X, Y, epochs=E, optimizer=bpx.LBFGS())``: E iterations on the
    full batch (``batch_size`` must be None).

    ``history_size`` pairs (s, y) are kept; ``tol`` stops when every gradient entry is at most ``tol``
    in magnitude; ``ftol`` stops on a relative decrease of the cost below it; ``max_fun`` caps the cost
    evaluations of one ``fit`` call; ``max_ls`` caps the evaluations of one line search. The history
    carries over to the next ``fit`` call with the same optimizer (``reset()`` forgets it). After a fit,
    ``n_iter``, ``n_fun``, ``converged``, ``message``, ``fun`` (the final cost, with the weight-decay term)
    and ``fun_data`` (without it) describe that call.

    Parameters
    ----------
    history_size : int, default 10
        The number of (s, y) pairs kept.
    tol : float, default 1e-5
        Stop when every gradient entry is at most this in magnitude.
    ftol : float, default 2.22e-9
        Stop on a relative decrease of the cost below this.
    max_fun : int, default 15000
        The most cost evaluations of one ``fit`` call.
    max_ls : int, default 20
        The most cost evaluations of one line search.
    weight_decay : float, default 0.0
        λ of the λ/2 ‖W‖² added to the cost (weight matrices only).

    Raises
    ------
    TypeError, ValueError
        For an argument that is not as described, naming it.
    """

    def __init__(self, history_size=10, tol=1e-5, ftol=2.220446049250313e-09, max_fun=15000, max_ls=20,
                 weight_decay=0.0):
        super().__init__(weight_decay, None)
        self.history_size = check_int(history_size, "history_size")
        self.tol = check_float(tol, "tol", low=0.0)
        self.ftol = check_float(ftol, "ftol", low=0.0)
        self.max_fun = check_int(max_fun, "max_fun")
        self.max_ls = check_int(max_ls, "max_ls")
        self.n_iter, self.n_fun, self.converged, self.message = 0, 0, False, ""
        self.fun = self.fun_data = None
        self._pairs = []  # (s, y, 1 / yᵀs) on the device

    def reset(self):
        super().reset()
        self._pairs = []

    def prepare(self, params):
        """Refused: L-BFGS is no per-batch update rule (see :meth:`step`); raised before any work."""
        self.step(params, None)

    def step(self, params, grads):
        raise TypeError(
            "bpx.LBFGS needs the cost at trial points along a line, not one gradient: train with "
            "net.fit(X, Y, epochs=E, optimizer=bpx.LBFGS()) (full batch), not train_step or another loop"
        )

    update = step

    def __repr__(self):
        return (f"LBFGS(history_size={self.history_size}, tol={self.tol}, ftol={self.ftol}, max_fun={self.max_fun}, "
                f"max_ls={self.max_ls}, weight_decay={self.weight_decay})")

    # -- the iteration the training loop drives (one epoch = one iteration) ------------------------------
    def begin(self, obj, params, epochs):
        """Start a ``fit``: evaluate the objective ``obj`` at ``params``; returns False when the cost there
        is not finite (nothing can start). ``epochs`` bounds the iterations (the message if reached)."""
        shapes = [tuple(p.shape) for p in params]
        if self._shapes is not None and self._shapes != shapes:
            raise ValueError(f"this LBFGS was used with parameters of shapes {self._shapes}, now it gets {shapes}; "
                             f"use a new optimizer (or call reset()) for another network")
        self._shapes = shapes
        self.n_iter, self.converged, self.message = 0, False, f"reached epochs={epochs} iterations"
        self._ftol = max(self.ftol, float(obj.xp.finfo(obj.dtype).eps))  # a relative decrease below eps is noise
        self._theta = obj.flat(params)
        f, f_data, _, gmax, g, _ = obj(self._theta)
        self.fun, self.fun_data, self._g = f, f_data, g
        if not math.isfinite(f):
            return False
        if gmax <= self.tol:
            self.converged, self.message = True, f"max|gradient| <= tol={self.tol} at the start"
        return True

    def iterate(self, obj):
        """One iteration from the current point: returns ``(f_data, extra)`` of the accepted point
        (``extra``: what the objective returns for the accuracy, e.g. A[L]), or None when no step was
        taken (``converged``/``message`` say why). After a step, :attr:`done` says whether to stop."""
        xp = obj.xp
        theta, f, g = self._theta, self.fun, self._g
        pairs = self._pairs  # the state changes only once the line search has ended: an evaluation that
        while True:  # raises (a Dask graph given up on a stop request) leaves the iteration undone
            if obj.count >= self.max_fun:
                self._pairs, self.message = pairs, f"reached max_fun={self.max_fun} cost evaluations"
                return None
            d = self._direction(g, xp, pairs)
            gtd = float(xp.sum(g * d))
            if not gtd < 0.0 and pairs:  # not a descent direction: forget the history, go downhill
                pairs = []
                d = -g
                gtd = float(xp.sum(g * d))
            if not gtd < 0.0:
                self._pairs, self.converged, self.message = pairs, True, "no descent direction (zero gradient)"
                return None
            t0 = 1.0 if pairs else 1.0 / math.sqrt(-gtd)  # a fresh history: d = −g, first step 1/‖d‖₂
            t, new = _strong_wolfe(obj, theta, t0, d, f, gtd, min(self.max_ls, self.max_fun - obj.count))
            if new is not None:
                break
            if not pairs:
                self._pairs, self.message = pairs, "the line search found no lower cost (precision limit)"
                return None
            pairs = []  # retry once from steepest descent
        self._pairs = pairs
        f_new, f_data, _, gmax, g_new, extra = new
        s = t * d
        y = g_new - g
        ys = float(xp.sum(y * s))
        self._remember(s, y, ys, t * gtd)
        self._theta = theta + s
        f_old, self.fun, self.fun_data, self._g = f, f_new, f_data, g_new
        self.n_iter += 1
        self.done = False
        if gmax <= self.tol:
            self.converged, self.message, self.done = True, f"max|gradient| <= tol={self.tol}", True
        elif (f_old - f_new) <= self._ftol * max(abs(f_old), abs(f_new), 1.0):
            self.converged, self.done = True, True
            self.message = f"relative decrease of the cost <= ftol={self._ftol:.3g}"
        elif obj.count >= self.max_fun:
            self.message, self.done = f"reached max_fun={self.max_fun} cost evaluations", True
        return f_data, extra

    def params(self, obj):
        """The accepted point as a list of fresh parameter arrays."""
        return [obj.xp.asarray(p, copy=True) for p in obj.unflat(self._theta)]

    def state_dict(self):
        """The memory (the pairs s, y, 1/yᵀs), the current point's cost and gradient and the counters, as
        host values: with the parameters, everything the next iteration depends on."""
        state = super().state_dict()
        state.update(pairs=[[to_numpy(s), to_numpy(y), float(rho)] for s, y, rho in self._pairs],
                     n_iter=self.n_iter, converged=self.converged, message=self.message,
                     fun=self.fun, fun_data=self.fun_data, g=None if getattr(self, "_g", None) is None else to_numpy(self._g))
        return state

    def load_state_dict(self, state, asarray):
        super().load_state_dict(state, asarray)
        self._pairs = [(asarray(s), asarray(y), rho) for s, y, rho in state["pairs"]]
        self.n_iter, self.converged, self.message = state["n_iter"], state["converged"], state["message"]
        self.fun, self.fun_data = state["fun"], state["fun_data"]
        self._g = None if state["g"] is None else asarray(state["g"])

    def resume(self, obj, params, epochs):
        """Continue a ``fit`` from a loaded state (:meth:`load_state_dict`) at ``params``, without a new
        cost evaluation (the loaded point's cost and gradient are the ones of :meth:`begin`)."""
        self._ftol = max(self.ftol, float(obj.xp.finfo(obj.dtype).eps))
        self._theta = obj.flat(params)
        if not self.converged and self.n_iter >= epochs:
            self.message = f"reached epochs={epochs} iterations"

    # -- the direction ------------------------------------------------------------------------------
    def _direction(self, g, xp, pairs):
        """d = −H g by the two-loop recursion over the memory ``pairs`` (all on the device; 0-d arrays
        for the scalars)."""
        q = -g
        alphas = []
        for s, y, rho in reversed(pairs):
            a = rho * xp.sum(s * q)
            alphas.append(a)
            q = q - a * y
        if pairs:
            s, y, _ = pairs[-1]
            q = q * (xp.sum(s * y) / xp.sum(y * y))
        for (s, y, rho), a in zip(pairs, reversed(alphas)):
            b = rho * xp.sum(y * q)
            q = q + (a - b) * s
        return q

    def _remember(self, s, y, ys, t_gtd):
        """Keep the pair when its curvature yᵀs is positive enough (L-BFGS-B's test: yᵀs > eps · (−t gᵀd))."""
        if not ys > 2.220446049250313e-16 * max(-t_gtd, 0.0) or not ys > 0.0:
            return
        if len(self._pairs) == self.history_size:
            self._pairs.pop(0)
        self._pairs.append((s, y, 1.0 / ys))


# -- the cost along a line, with one host transfer per evaluation ------------------------------------
class Objective:
    """C(θ) and ∇C(θ) of ``net`` on the full batch, θ flat; counts evaluations (the eager engine's: one
    backprop per evaluation, the functional core's ``loss_and_grads``)."""

    def __init__(self, net, X, Y, weights, weight_decay):
        self.net, self.X, self.Y, self.weights = net, X, Y, weights
        self.xp = net.backend.xp
        self.dtype = net.array_dtype
        self.shapes = net.param_shapes()
        self.sizes = [math.prod(shape) for shape in self.shapes]
        self.wd = weight_decay
        self.decay = None
        if weight_decay:
            xp, dtype, dev = self.xp, net.array_dtype, net.backend.device
            parts = [xp.full(n, 1.0 if len(shape) == 2 else 0.0, dtype=dtype, device=dev)
                     for n, shape in zip(self.sizes, self.shapes)]
            self.decay = xp.concat(parts)  # 1 on weight entries, 0 on biases
        self.count = 0

    def flat(self, params):
        return self.xp.concat([self.xp.reshape(p, (-1,)) for p in params])

    def unflat(self, theta):
        params, start = [], 0
        for n, shape in zip(self.sizes, self.shapes):
            params.append(self.xp.reshape(theta[start:start + n], shape))
            start += n
        return params

    def __call__(self, theta, d=None):
        """``(C, data C, gᵀd, max|g|)`` as host floats, and g and A[L] on the device."""
        params = self.net.params = self.unflat(theta)  # the trial point (the loop puts the accepted one back)
        values, g, A_L = self.evaluate(self.net, params, theta, d)
        return self.result(self.net.backend.to_numpy(values), g, A_L)

    def evaluate(self, net, params, theta, d):
        """The evaluation as array math (what a compiled objective compiles): the device vector
        ``[C, data C, gᵀd, max|g|]``, g and A[L], for ``net``'s architecture at ``params`` (θ unflattened)."""
        xp = self.xp
        cost, grads, A_L = loss_and_grads(net, params, self.X, self.Y, self.weights)
        g = self.flat(grads)
        total = cost
        if self.wd:
            dec = self.decay * theta
            total = cost + (0.5 * self.wd) * xp.sum(dec * theta)
            g = g + self.wd * dec
        gtd = xp.sum(g * d) if d is not None else xp.zeros((), dtype=g.dtype, device=net.backend.device)
        return xp.stack([total, cost, gtd, xp.max(xp.abs(g))]), g, A_L

    def result(self, host, g, extra):
        """Count one evaluation; its host numbers (a non-finite point reads as an infinite cost)."""
        self.count += 1
        f, f_data, gtd, gmax = (float(v) for v in host)
        if not math.isfinite(f) or not math.isfinite(gtd):
            f, gtd = math.inf, math.inf  # a non-finite trial point: the line search backs off
        return f, f_data, gtd, gmax, g, extra


def _cubic_min(x1, f1, g1, x2, f2, g2, lo, hi):
    """The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clipped to [lo, hi]; the
    midpoint where the cubic has none or a value is not finite (torch's ``_cubic_interpolate``, except
    where a division is by zero, e.g. g1 = g2 with d2 = 0: torch's tensors give ±inf, which it clips to a
    bound; here that is the midpoint too)."""
    try:
        d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2)
        d2_square = d1 * d1 - g1 * g2
        if d2_square >= 0.0 and math.isfinite(d2_square):
            d2 = math.sqrt(d2_square)
            if x1 <= x2:
                t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
            else:
                t = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
            if math.isfinite(t):
                return min(max(t, lo), hi)
    except (ZeroDivisionError, OverflowError):
        pass
    return (lo + hi) / 2.0


def _strong_wolfe(obj, theta, t, d, f, gtd, max_evals):
    """A step t along d satisfying the strong Wolfe conditions (bracketing, then zoom by cubic
    interpolation); returns ``(t, evaluation)`` of the best point found, ``(0, None)`` if none lowered C."""
    tol_change = 1e-9
    d_norm = None
    evals = 0

    def at(step):
        nonlocal evals
        evals += 1
        return obj(theta + step * d, d)

    new = at(t)
    t_prev, f_prev, gtd_prev, ev_prev = 0.0, f, gtd, None
    bracket = None
    done = False
    while evals < max_evals:
        f_new, gtd_new = new[0], new[2]
        if f_new > f + C1 * t * gtd or (evals > 2 and f_new >= f_prev):
            bracket = [[t_prev, f_prev, gtd_prev, ev_prev], [t, f_new, gtd_new, new]]
            break
        if abs(gtd_new) <= -C2 * gtd:
            bracket, done = [[t, f_new, gtd_new, new]], True
            break
        if gtd_new >= 0:
            bracket = [[t_prev, f_prev, gtd_prev, ev_prev], [t, f_new, gtd_new, new]]
            break
        lo, hi = t + 0.01 * (t - t_prev), t * 10.0  # extrapolate
        t_next = _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, lo, hi)
        t_prev, f_prev, gtd_prev, ev_prev = t, f_new, gtd_new, new
        t = t_next
        new = at(t)
    if bracket is None:  # out of evaluations while extrapolating: keep the better of the last two
        last = [t, new[0], new[2], new]
        prev = [t_prev, f_prev, gtd_prev, ev_prev]
        best = last if last[1] <= prev[1] else prev
        return (best[0], best[3]) if best[3] is not None and best[1] < f else (0.0, None)
    if not done:
        xp = namespace(d)
        d_norm = float(xp.max(xp.abs(d))) if d_norm is None else d_norm
    insufficient = False
    low, high = (0, 1) if len(bracket) == 1 or bracket[0][1] <= bracket[1][1] else (1, 0)
    while not done and evals < max_evals:
        (a, fa, ga, _), (b, fb, gb, _) = bracket
        if abs(b - a) * d_norm < tol_change:
            break
        t = _cubic_min(a, fa, ga, b, fb, gb, min(a, b), max(a, b))
        lo_b, hi_b = min(a, b), max(a, b)
        eps = 0.1 * (hi_b - lo_b)
        if min(hi_b - t, t - lo_b) < eps:  # too close to an end: move 10% inside (torch's safeguard)
            if insufficient or t >= hi_b or t <= lo_b:
                t = hi_b - eps if abs(t - hi_b) < abs(t - lo_b) else lo_b + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        new = at(t)
        f_new, gtd_new = new[0], new[2]
        if f_new > f + C1 * t * gtd or f_new >= bracket[low][1]:
            bracket[high] = [t, f_new, gtd_new, new]
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -C2 * gtd:
                done = True
            elif gtd_new * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = list(bracket[low])
            bracket[low] = [t, f_new, gtd_new, new]
    best = bracket[low]
    if best[3] is None or not best[1] < f:
        return 0.0, None
    return best[0], best[3]


