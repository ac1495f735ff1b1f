"""Argument checks shared by every public entry point.

Each check raises ``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind, wrong value)
naming the argument, what was expected and what was given, before any work is done.
"""

from __future__ import annotations

import math
import numbers


def _is_bool(value):
    return isinstance(value, bool) or type(value).__name__ == "bool_"


def check_int(value, name, minimum=1):
    """An integer (numpy integers too, not bool or 2.0) that is at least ``minimum``."""
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_float(value, name, low=None, high=None, low_open=False, high_open=False):
    """A finite real number within [low, high] (open ends where asked)."""
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    interval = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    bad = not math.isfinite(value)
    if low is not None:
        bad = bad or value < low or (low_open and value == low)
    if high is not None:
        bad = bad or value > high or (high_open and value == high)
    if bad:
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
    return value


def check_bool(value, name):
    if not _is_bool(value):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_layer_sizes(layer_sizes):
    """At least two positive integers: the input width, any hidden widths, the output width."""
    if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__"):
        raise TypeError(
            f"layer_sizes must be a list of integers such as [784, 128, 10], got {layer_sizes!r}"
        )
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError(
            f"layer_sizes needs at least the input and output widths (e.g. [4, 3]), got {sizes!r}"
        )
    for i, size in enumerate(sizes):
        if _is_bool(size) or not isinstance(size, numbers.Integral):
            raise TypeError(f"layer_sizes[{i}] must be a positive integer, got {size!r} ({type(size).__name__})")
        if size < 1:
            raise ValueError(f"layer_sizes[{i}] must be a positive integer, got {size!r}")
    return [int(s) for s in sizes]
