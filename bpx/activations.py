"""Activation functions: the forward pass ``A = g(Z)`` next to its backward pass ``dZ = dA * g'(Z)``.

``backward(Z, A, dA)`` is the vector-Jacobian product that BP1/BP2 need (DESIGN.md):
for an element-wise g it is ``dA * g'(Z)``; for softmax, whose Jacobian is not diagonal, it is
``A * (dA - sum(dA * A))``. Every function is stable for |z| up to 1e3 in float32 and float64: no
exponential of a positive number is ever taken.
"""

from __future__ import annotations

from .backend import inplace_ok
from .backend import namespace as array_namespace

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
            num = xp.exp(xp.minimum(Z, 0.0))
            num /= den
            return num
        return xp.exp(xp.minimum(Z, 0.0)) / (1.0 + den)

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
        return array_namespace(Z).maximum(Z, 0.0)

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


class Softmax(Activation):
    name = "softmax"

    def __call__(self, Z):
        """a_j = e^{z_j - max z} / Σ_k e^{z_k - max z}, row by row."""
        xp = array_namespace(Z)
        E = xp.exp(Z - xp.max(Z, axis=1, keepdims=True))
        return E / xp.sum(E, axis=1, keepdims=True)

    def backward(self, Z, A, dA):
        """dZ = J_softmaxᵀ dA = a ⊙ (dA - Σ_k dA_k a_k), row by row."""
        xp = array_namespace(Z)
        return A * (dA - xp.sum(dA * A, axis=1, keepdims=True))


def log_softmax(Z):
    """log softmax(z) = z - max z - log Σ e^{z - max z}: finite for any finite z."""
    xp = array_namespace(Z)
    shifted = Z - xp.max(Z, axis=1, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))


def softplus(Z):
    """log(1 + e^z) = max(z, 0) + log1p(e^-|z|): finite for any finite z."""
    xp = array_namespace(Z)
    return xp.maximum(Z, 0.0) + xp.log1p(xp.exp(-xp.abs(Z)))


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


ACTIVATIONS = {cls.name: cls() for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, Identity, Softmax)}
OUTPUT_ONLY = {"exp": Exp()}  # activations offered for the output layer only


def get_activation(name, argument="activation"):
    """The activation called ``name``; a ``ValueError`` listing the valid names otherwise."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a string naming an activation, got {type(name).__name__}")
    table = {**ACTIVATIONS, **OUTPUT_ONLY} if argument == "output" else ACTIVATIONS
    try:
        return table[name]
    except KeyError:
        raise ValueError(
            f"{argument}={name!r} is not an activation; expected one of {', '.join(table)}"
        ) from None
