"""The bottom layer: argument checks every public entry point shares, and files written whole or not at all.

Nothing here imports another bpx package (docs/development/architecture.md).
"""

from ._atomic import digest, write_atomically
from ._validation import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_layer_sizes,
    in_interval,
    interval,
    is_bool,
    sklearn_error,
)

__all__ = ["check_bool", "check_choice", "check_float", "check_int", "check_layer_sizes", "digest", "in_interval",
           "interval", "is_bool", "sklearn_error", "write_atomically"]
