"""Activation functions: the forward pass ``A = g(Z)`` next to its backward pass ``dZ = dA * g'(Z)``.

``backward(Z, A, dA)`` is the vector-Jacobian product that BP1/BP2 need (DESIGN.md):
for an element-wise g it is ``dA * g'(Z)``; for softmax, whose Jacobian is not diagonal, it is
``A * (dA - sum(dA * A))``. Every function is stable for |z| up to 1e3 in float32 and float64: no
exponential of a positive number is ever taken.

The table is open: :func:`activation` registers an element-wise activation from two array-API
functions, ``forward(z) -> a`` and ``derivative(z, a) -> g'(z)``, after checking the derivative against
central differences of the forward. GELU, SiLU, softplus and ELU are registered through the same
mechanism (and gradchecked by the test suite).
"""

from __future__ import annotations

from ..backends._backend import get_backend, inplace_ok, ndarray_ok, to_numpy
from ..backends._backend import namespace as array_namespace
from ._bounds import at_least, at_most

LEAKY_SLOPE = 0.01


class Activation:
    """Base class: ``__call__`` is g, ``backward`` is the product with g'."""

    name = ""

    def __call__(self, Z):
        raise NotImplementedError

    def backward(self, Z, A, dA):
        raise NotImplementedError

    def backward_owned(self, Z, A, dA):
        """``backward`` when ``dA`` is a temporary the caller owns: a fast path may overwrite it (in-place
        operators on numpy/cupy/torch); the generic path is ``backward``. Both give the same numbers."""
        return self.backward(Z, A, dA)

    def __repr__(self):
        return self.name


class Sigmoid(Activation):
    name = "sigmoid"

    def __call__(self, Z):
        """g(z) = 1 / (1 + e^-z), evaluated as e^min(z, 0) / (1 + e^-|z|) so nothing overflows (the
        numerator is 1 for z >= 0 and e^z = e^-|z| otherwise: no ``where``, which costs more than an exp)."""
        xp = array_namespace(Z)
        den = xp.exp(-xp.abs(Z))
        if inplace_ok(den):  # fast path: the same operations, in place on the fresh temporaries
            den += 1.0
            num = xp.exp(at_most(Z, 0.0))
            num /= den
            return num
        return xp.exp(at_most(Z, 0.0)) / (1.0 + den)

    def backward(self, Z, A, dA):
        """g'(z) = g(z) (1 - g(z)) = a (1 - a)."""
        return dA * A * (1.0 - A)

    def backward_owned(self, Z, A, dA):
        if not inplace_ok(dA):
            return self.backward(Z, A, dA)
        dA *= A
        dA *= 1.0 - A
        return dA


class Tanh(Activation):
    name = "tanh"

    def __call__(self, Z):
        """g(z) = tanh z."""
        return array_namespace(Z).tanh(Z)

    def backward(self, Z, A, dA):
        """g'(z) = 1 - tanh² z = 1 - a²."""
        return dA * (1.0 - A * A)

    def backward_owned(self, Z, A, dA):
        if not inplace_ok(dA):
            return self.backward(Z, A, dA)
        dA *= 1.0 - A * A
        return dA


class ReLU(Activation):
    name = "relu"

    def __call__(self, Z):
        """g(z) = max(z, 0)."""
        return at_least(Z, 0.0)

    def backward(self, Z, A, dA):
        """g'(z) = 1 for z > 0, else 0."""
        return array_namespace(Z).where(Z > 0, dA, 0.0)

    def backward_owned(self, Z, A, dA):
        """Fast path: dA ⊙ [z > 0] by multiplying with the mask in place (numpy's ``where`` with a scalar
        is ~8x slower than this multiply); equal to ``backward`` for finite dA."""
        if not inplace_ok(dA):
            return self.backward(Z, A, dA)
        dA *= Z > 0
        return dA


class LeakyReLU(Activation):
    name = "leaky_relu"

    def __call__(self, Z):
        """g(z) = z for z > 0, else 0.01 z."""
        return array_namespace(Z).where(Z > 0, Z, LEAKY_SLOPE * Z)

    def backward(self, Z, A, dA):
        """g'(z) = 1 for z > 0, else 0.01."""
        return array_namespace(Z).where(Z > 0, dA, LEAKY_SLOPE * dA)


class Identity(Activation):
    name = "identity"

    def __call__(self, Z):
        """g(z) = z."""
        return Z

    def backward(self, Z, A, dA):
        """g'(z) = 1."""
        return dA


SOFTMAX_MEMO = 1 << 16  # outputs of up to this many values keep their shift and row sums for the loss


def _row_max(Z, xp):
    """max over each row, as a column (the ndarray method where it exists: the same exact maximum)."""
    return Z.max(axis=1, keepdims=True) if ndarray_ok(Z) else xp.max(Z, axis=1, keepdims=True)


def _row_sum(E, xp):
    """Σ over each row, as a column (the ndarray method where it exists: the very same reduction)."""
    return E.sum(axis=1, keepdims=True) if ndarray_ok(E) else xp.sum(E, axis=1, keepdims=True)


class Softmax(Activation):
    """Softmax; the cross-entropy's cost from the logits (:meth:`log_of`) reuses the shift and row sums
    of the forward pass on the same Z instead of computing them a second time (on small outputs of
    the eager, mutable libraries; the same operations, so the same numbers, as :func:`log_softmax`)."""

    name = "softmax"

    def __init__(self):
        self._memo = None  # (Z, Z - max z, Σ e^{z - max z}) of the last call, or None

    def __call__(self, Z):
        """a_j = e^{z_j - max z} / Σ_k e^{z_k - max z}, row by row."""
        xp = array_namespace(Z)
        shifted = Z - _row_max(Z, xp)
        E = xp.exp(shifted)
        S = _row_sum(E, xp)
        if not inplace_ok(E):
            return E / S
        if Z.shape[0] * Z.shape[1] <= SOFTMAX_MEMO:  # bounded: what the memo holds stays small
            self._memo = (Z, shifted, S)
        E /= S  # fast path: divide the fresh exponentials in place
        return E

    def log_of(self, Z):
        """log softmax(Z), the same numbers as :func:`log_softmax`: from the last call's intermediates
        when that call was on this very Z (used once, then dropped), else computed afresh."""
        memo = self._memo
        if memo is not None and memo[0] is Z:
            self._memo = None
            _, shifted, S = memo
            return shifted - array_namespace(Z).log(S)
        return log_softmax(Z)

    def backward(self, Z, A, dA):
        """dZ = J_softmaxᵀ dA = a ⊙ (dA - Σ_k dA_k a_k), row by row."""
        xp = array_namespace(Z)
        return A * (dA - xp.sum(dA * A, axis=1, keepdims=True))


def log_softmax(Z):
    """log softmax(z) = z - max z - log Σ e^{z - max z}: finite for any finite z."""
    xp = array_namespace(Z)
    shifted = Z - _row_max(Z, xp)
    return shifted - xp.log(_row_sum(xp.exp(shifted), xp))


def softplus(Z):
    """log(1 + e^z) = max(z, 0) + log1p(e^-|z|): finite for any finite z."""
    xp = array_namespace(Z)
    return at_least(Z, 0.0) + xp.log1p(xp.exp(-xp.abs(Z)))


class Exp(Activation):
    """The exponential, the output of a Poisson regression (its canonical link): an output-only activation
    (``output="exp"``, paired with ``loss="poisson"``), not offered for hidden layers, where e^z overflows."""

    name = "exp"

    def __call__(self, Z):
        """g(z) = e^z."""
        return array_namespace(Z).exp(Z)

    def backward(self, Z, A, dA):
        """g'(z) = e^z = a."""
        return dA * A


class UserActivation(Activation):
    """An element-wise activation from two functions: ``forward(z) -> a`` is g and ``derivative(z, a)
    -> g'(z)`` its derivative (``a = forward(z)`` is passed so that derivatives such as a(1 − a) cost
    nothing). The backward pass is ``dA ⊙ derivative(z, a)``."""

    def __init__(self, name, forward, derivative, doc=""):
        self.name, self.forward, self.derivative = name, forward, derivative
        self.__doc__ = doc or getattr(forward, "__doc__", None) or f"the user activation {name!r}"

    def __call__(self, Z):
        return self.forward(Z)

    def backward(self, Z, A, dA):
        return dA * self.derivative(Z, A)

    def backward_owned(self, Z, A, dA):
        if not inplace_ok(dA):
            return self.backward(Z, A, dA)
        dA *= self.derivative(Z, A)
        return dA


ACTIVATIONS = {cls.name: cls() for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, Identity, Softmax)}
_BUILTIN = set(ACTIVATIONS)


def activation(name, forward, derivative, *, replace=False, check=True):
    """Register an element-wise activation called ``name`` and return it (an :class:`Activation`).

    ``forward(z) -> a`` computes g(z) and ``derivative(z, a) -> g'(z)`` its derivative, both from the
    array API (``xp = array_api_compat.array_namespace(z)``), so the activation runs on every backend.
    Before registering, :func:`check_activation` compares ``derivative`` with central
    differences of ``forward`` in float64 at a few hundred points of [-8, 8] and refuses a pair that
    disagrees (a ``ValueError`` with the worst error and where it occurs). The name is then usable
    wherever bpx takes an activation (``bpx.MLP(activation=name)``), and is what a saved model stores:
    register it again, with the same functions, before loading such a model. A built-in name cannot
    be replaced; a name you registered can, with ``replace=True``.

    Parameters
    ----------
    name : str
        The activation's name.
    forward : callable
        ``forward(z) -> a``, element-wise, written with the array API.
    derivative : callable
        ``derivative(z, a) -> g'(z)``; ``a = forward(z)`` is passed so that derivatives such as
        ``a * (1 - a)`` cost nothing.
    replace : bool, default False
        Allow replacing an activation registered earlier under ``name`` (never a built-in one).
    check : bool, default True
        Compare ``derivative`` with central differences of ``forward`` before registering.

    Returns
    -------
    Activation
        The registered activation.

    Raises
    ------
    TypeError
        If ``name`` is not a string or ``forward``/``derivative`` are not callable.
    ValueError
        If ``name`` is taken (a built-in, or registered and ``replace`` is false), or the derivative
        disagrees with central differences (naming the worst error and where).
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise TypeError(f"name must be a string such as 'swish' (letters, digits, _), got {name!r}")
    for what, fn in (("forward", forward), ("derivative", derivative)):
        if not callable(fn):
            raise TypeError(f"{what} must be a function, got {type(fn).__name__}")
    if name in _BUILTIN:
        raise ValueError(f"name={name!r} is a built-in activation; choose another name")
    if name in ACTIVATIONS and not replace:
        raise ValueError(f"an activation named {name!r} is already registered; pass replace=True to replace it")
    act = UserActivation(name, forward, derivative)
    if check:
        check_activation(act)
    ACTIVATIONS[name] = act
    return act


def _builtin(name, forward, derivative):
    """A built-in element-wise activation, registered through the user mechanism (gradchecked by the
    test suite rather than at import)."""
    act = ACTIVATIONS[name] = UserActivation(name, forward, derivative, doc=forward.__doc__)
    _BUILTIN.add(name)
    return act


_SIGMOID = ACTIVATIONS["sigmoid"]
GELU_C = (2.0 / 3.141592653589793) ** 0.5


def _gelu(Z):
    """GELU, tanh approximation (Hendrycks & Gimpel; PyTorch's ``approximate='tanh'``, GPT-2):
    g(z) = ½ z (1 + tanh(√(2/π) (z + 0.044715 z³))). The exact GELU needs erf, which the array API
    lacks; the two differ by less than 5e-4. z³ stays finite for |z| <= 1e12 in float32."""
    xp = array_namespace(Z)
    return 0.5 * Z * (1.0 + xp.tanh(GELU_C * (Z + 0.044715 * Z * Z * Z)))


def _gelu_derivative(Z, A):
    """g'(z) = ½ (1 + t) + ½ z (1 − t²) √(2/π) (1 + 3·0.044715 z²), t = tanh(√(2/π)(z + 0.044715 z³))."""
    xp = array_namespace(Z)
    Z2 = Z * Z
    t = xp.tanh(GELU_C * (Z + 0.044715 * Z2 * Z))
    return 0.5 * (1.0 + t) + 0.5 * Z * (1.0 - t * t) * (GELU_C * (1.0 + 3.0 * 0.044715 * Z2))


def _silu(Z):
    """SiLU (swish): g(z) = z σ(z), with the stable sigmoid."""
    return Z * _SIGMOID(Z)


def _silu_derivative(Z, A):
    """g'(z) = σ(z) + z σ(z) (1 − σ(z)) = σ(z) (1 + z (1 − σ(z)))."""
    S = _SIGMOID(Z)
    return S * (1.0 + Z * (1.0 - S))


def _softplus_derivative(Z, A):
    """g'(z) = σ(z)."""
    return _SIGMOID(Z)


def _elu(Z):
    """ELU (α = 1): g(z) = z for z > 0, else e^z − 1 (expm1 of min(z, 0): no overflow)."""
    xp = array_namespace(Z)
    return xp.where(Z > 0, Z, xp.expm1(at_most(Z, 0.0)))


def _elu_derivative(Z, A):
    """g'(z) = 1 for z > 0, else e^z."""
    xp = array_namespace(Z)
    E = xp.exp(at_most(Z, 0.0))
    return xp.where(Z > 0, xp.ones_like(E), E)


_builtin("gelu", _gelu, _gelu_derivative)
_builtin("silu", _silu, _silu_derivative)
_builtin("softplus", softplus, _softplus_derivative)
_builtin("elu", _elu, _elu_derivative)
OUTPUT_ONLY = {"exp": Exp()}  # activations offered for the output layer only


def get_activation(name, argument="activation"):
    """The activation called ``name``; a ``ValueError`` listing the valid names otherwise.

    Parameters
    ----------
    name : str or Activation
        A key of :data:`bpx.ACTIVATIONS` (or an output-only activation such as ``"exp"`` when
        ``argument="output"``); an :class:`Activation` is returned as it is.
    argument : str, default "activation"
        The argument's name, for the error message.

    Returns
    -------
    Activation

    Raises
    ------
    TypeError
        If ``name`` is neither a string nor an :class:`Activation`.
    ValueError
        If no activation has that name (the message lists them)."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a string naming an activation, got {type(name).__name__}")
    table = {**ACTIVATIONS, **OUTPUT_ONLY} if argument == "output" else ACTIVATIONS
    try:
        return table[name]
    except KeyError:
        raise ValueError(
            f"{argument}={name!r} is not an activation; expected one of {', '.join(table)} "
            f"(or register your own with bpx.activation(name, forward, derivative))"
        ) from None


ACTIVATION_TOL = 1e-6


def check_activation(act, backend=None, tol=ACTIVATION_TOL):
    """Check an element-wise activation's ``derivative(z, a)`` against central differences of its
    ``forward(z)`` in float64 on ``backend`` (default NumPy): at 321 points spread over [-8, 8] (offset so
    that none falls on a kink at an integer or at 0) plus ±20, with steps h = 1e-6·max(1, |z|). The error
    at a point is ``|analytic − numeric| / max(1, |numeric|)``; the worst is returned, and a
    ``ValueError`` naming it (and the z where it occurs) is raised when it exceeds ``tol``, or when
    either function fails or returns something other than finite numbers of z's shape.

    Parameters
    ----------
    act : Activation
        The activation (its ``forward`` and ``derivative``).
    backend : str or bpx.Backend, optional
        Where to evaluate them (default NumPy).
    tol : float, default 1e-6
        The largest accepted error.

    Returns
    -------
    float
        The worst error.

    Raises
    ------
    ValueError
        As described above, naming the activation."""
    backend = get_backend("numpy" if backend is None else backend)
    xp = backend.xp
    grid = [-8.0 + 0.05 * k + 0.00731 for k in range(321)] + [-20.0, 20.0]
    h = [1e-6 * max(1.0, abs(v)) for v in grid]
    Z = backend.asarray(grid, "float64")
    H = backend.asarray(h, "float64")
    name = act.name
    try:
        with backend.quiet_float_errors():  # NaN and infinities are refused below, with a clearer message
            A = act.forward(Z)
            analytic = act.derivative(Z, A)
            numeric = (act.forward(Z + H) - act.forward(Z - H)) / (2.0 * H)
    except Exception as exc:
        raise ValueError(f"activation {name!r}: forward/derivative failed on a float64 array of shape "
                         f"{tuple(Z.shape)} ({type(exc).__name__}: {exc})") from exc
    for what, arr in (("forward(z)", A), ("derivative(z, a)", analytic)):
        if not hasattr(arr, "shape") or tuple(arr.shape) != tuple(Z.shape):
            raise ValueError(f"activation {name!r}: {what} must return an array of z's shape {tuple(Z.shape)}, "
                             f"got {getattr(arr, 'shape', type(arr).__name__)}")
        if not bool(xp.all(xp.isfinite(arr))):
            raise ValueError(f"activation {name!r}: {what} returned NaN or infinite values on finite z")
    a, n = to_numpy(analytic).tolist(), to_numpy(numeric).tolist()
    errors = [abs(x - y) / max(1.0, abs(y)) for x, y in zip(a, n)]
    k = max(range(len(errors)), key=errors.__getitem__)
    if not errors[k] <= tol:
        raise ValueError(
            f"activation {name!r}: derivative(z, a) disagrees with central differences of forward(z): worst "
            f"error {errors[k]:.3g} at z = {grid[k]:.5g} (derivative {a[k]:.8g}, differences {n[k]:.8g}); "
            f"at most {tol:g} is accepted"
        )
    return errors[k]
