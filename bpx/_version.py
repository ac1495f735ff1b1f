"""The one source of bpx's version (pyproject.toml reads it, bpx.__version__ re-exports it)."""

__version__ = "0.1.0"
