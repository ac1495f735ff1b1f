"""Files out and in: model files (arrays plus a JSON header, never pickle) and ONNX export."""

from ._onnx import export_onnx
from ._persistence import FORMAT_VERSION, load, save

__all__ = ["FORMAT_VERSION", "export_onnx", "load", "save"]
