"""Argument checks shared by every public entry point.

Each check raises ``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind, wrong value)
naming the argument, what was expected and what was given, before any work is done.
"""

from __future__ import annotations

import math
import numbers


def is_bool(value):
    """True for ``True``/``False`` and NumPy's ``bool_`` (without importing NumPy)."""
    kind = type(value)
    return isinstance(value, bool) or (kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_"))


def interval(low=None, high=None, low_open=False, high_open=False):
    """The interval as text: ``interval(0.0, 1.0, high_open=True)`` is ``"[0.0, 1.0)"``."""
    lo, hi = "-inf" if low is None else low, "inf" if high is None else high
    return f"{'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}"


def in_interval(value, low=None, high=None, low_open=False, high_open=False):
    """Whether the real number ``value`` is finite and within the interval."""
    return math.isfinite(value) and (low is None or value > low or (value == low and not low_open)) and (
        high is None or value < high or (value == high and not high_open))


def sklearn_error(owner, name, expected, value):
    """scikit-learn's parameter-validation error, word for word (its estimator checks match it):
    ``The 'alpha' parameter of MLPClassifier must be a float in the range [0.0, inf). Got -1 instead.``"""
    return ValueError(f"The {name!r} parameter of {type(owner).__name__} must be {expected}. Got {value!r} instead.")


def check_int(value, name, minimum=1, *, owner=None):
    """An integer (numpy integers too, not bool or 2.0) that is at least ``minimum``.

    With ``owner`` (a scikit-learn estimator), any failure is :func:`sklearn_error` ("an int in the
    range [minimum, inf)"); so are the other checks' failures with ``owner``."""
    bad_type = is_bool(value) or not isinstance(value, numbers.Integral)
    if bad_type or value < minimum:
        if owner is not None:
            raise sklearn_error(owner, name, f"an int in the range [{minimum}, inf)", value)
        if bad_type:
            raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r} ({type(value).__name__})")
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_float(value, name, low=None, high=None, low_open=False, high_open=False, *, owner=None):
    """A finite real number within [low, high] (open ends where asked), as a float."""
    bounds = dict(low=low, high=high, low_open=low_open, high_open=high_open)
    bad_type = is_bool(value) or not isinstance(value, numbers.Real)
    if owner is not None and (bad_type or not in_interval(value, **bounds)):
        raise sklearn_error(owner, name, f"a float in the range {interval(**bounds)}", value)
    if bad_type:
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not in_interval(value, **bounds):
        raise ValueError(f"{name} must be a finite number in {interval(**bounds)}, got {value!r}")
    return value


def check_bool(value, name, *, owner=None):
    """``True`` or ``False`` (NumPy's ``bool_`` too), as a bool."""
    if not is_bool(value):
        if owner is not None:
            raise sklearn_error(owner, name, "a bool (True or False)", value)
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(value, name, options, *, owner=None):
    """One of the strings ``options``."""
    if not isinstance(value, str) or value not in options:
        if owner is not None:
            raise sklearn_error(owner, name, "a str among {" + ", ".join(repr(o) for o in options) + "}", value)
        raise ValueError(f"{name} must be one of {', '.join(options)}, got {value!r}")
    return value


def check_layer_sizes(layer_sizes, name="layer_sizes"):
    """At least two positive integers: the input width, any hidden widths, the output width."""
    if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__"):
        raise TypeError(
            f"{name} must be a list of integers such as [784, 128, 10], got {layer_sizes!r}"
        )
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError(
            f"{name} needs at least the input and output widths (e.g. [4, 3]), got {sizes!r}"
        )
    for i, size in enumerate(sizes):
        if is_bool(size) or not isinstance(size, numbers.Integral):
            raise TypeError(f"{name}[{i}] must be a positive integer, got {size!r} ({type(size).__name__})")
        if size < 1:
            raise ValueError(f"{name}[{i}] must be a positive integer, got {size!r}")
    return [int(s) for s in sizes]
