"""Argument types shared by the commands: each refuses NaN, infinities and out-of-range values."""

from __future__ import annotations

import argparse

from bpx.utils._paths import check_output_file, output_clash
from bpx.utils._validation import check_float, check_int, in_interval


def _int(text, minimum, expected):
    """``text`` as an integer >= ``minimum`` (bpx.utils.check_int), else argparse's usage error."""
    try:
        return check_int(int(text), "value", minimum)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def positive_int(text):
    return _int(text, 1, "a positive integer")


def nonnegative_int(text):
    return _int(text, 0, "an integer >= 0")


def finite_float(text):
    """A finite number (an argparse type; the other number types build on it)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not in_interval(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _float(text, expected, **bounds):
    """``text`` as a finite number within ``bounds`` (bpx.utils.check_float), else argparse's usage error."""
    try:
        return check_float(finite_float(text), "value", **bounds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def positive_float(text):
    return _float(text, "a number > 0", low=0.0, low_open=True)


def float_at_least_0(text):
    return _float(text, "a number >= 0", low=0.0)


def fraction_open(text):
    """A factor in (0, 1]."""
    return _float(text, "a number in (0, 1]", low=0.0, high=1.0, low_open=True)


def unit_interval(text):
    """A fraction in [0, 1)."""
    return _float(text, "a number in [0, 1)", low=0.0, high=1.0, high_open=True)


def unit_interval_or_auto(text):
    """``auto`` (returned as the string ``"auto"``), or a fraction in [0, 1)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return unit_interval(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1) or 'auto', got {text!r}") from None


def dropout(text):
    """``0.5`` (every hidden layer) or ``0.5,0.2`` (one per hidden layer): probabilities in [0, 1)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1) or one per hidden layer such as 0.5,0.2, "
                                         f"got {text!r}")
    values = [unit_interval(p) for p in parts]
    return values[0] if len(values) == 1 else values


def int_list(text):
    """``64,32`` -> [64, 32]: positive integers separated by commas (no empty entry: ``4,,4`` and ``,4,``
    are refused, not read as 4,4 and 4)."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or not all(parts):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers such as 64,32, got {text!r}")
    return [positive_int(p) for p in parts]


def fraction(text):
    """A fraction in (0, 1)."""
    return _float(text, "a number in (0, 1)", low=0.0, high=1.0, low_open=True, high_open=True)


def batch_size(text):
    """A positive integer, or ``full`` for full-batch gradient descent (returned as None)."""
    if text.strip().lower() == "full":
        return None
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'full', got {text!r}") from None


def backend_spec(text):
    """A backend spec that is usable here (``numpy``, ``torch:cuda``, ``auto``, ...)."""
    from bpx.backends._backend import get_backend
    from bpx.backends._fastest import is_fastest, parse

    try:
        if is_fastest(text):
            parse(text)  # "fastest[:B]": timed when the network and the run are known (bpx train, bpx.MLP, bpx.load)
        else:
            get_backend(text)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def existing_file(text):
    import os

    if not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"no such file: {text!r}")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is a directory, not a file")
    return text


def existing_data(text):
    """A data file, or (for ``--backend dask``) a directory such as a zarr store or a glob of shards."""
    import glob
    import os

    if not os.path.exists(text) and not glob.glob(text):
        raise argparse.ArgumentTypeError(f"no such file, directory or matching files: {text!r}")
    return text


def output_path(text):
    """A file path whose folder exists (checked before any work)."""
    try:
        return check_output_file(text, None)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def refuse_overwrite(parser, outputs, inputs):
    """A usage error (exit 2, before any work) when an output (``{option: path}``) resolves to an input or
    to another output (real paths, symlinks resolved: :func:`bpx.utils.output_clash`)."""
    problem = output_clash(outputs, inputs)
    if problem is not None:
        parser.error(f"argument {problem}")
