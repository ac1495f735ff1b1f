"""The bottom layer: argument checks every public entry point shares, file paths checked before any work,
and files written whole or not at all.

Nothing here imports another bpx package (docs/development/architecture.md).
"""

from ._atomic import digest, write_atomically
from ._paths import as_path, check_output_file, output_clash, regular_file_problem, same_file
from ._validation import check_bool, check_float, check_int, check_layer_sizes

__all__ = ["as_path", "check_bool", "check_float", "check_int", "check_layer_sizes", "check_output_file", "digest",
           "output_clash", "regular_file_problem", "same_file", "write_atomically"]
