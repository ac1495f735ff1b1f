"""Files out and in: the model file format (arrays plus a JSON header, never pickle: `save` and `read`;
`bpx.load`, which builds a network, is bpx.models') and ONNX export."""

from ._onnx import export_onnx
from ._persistence import FORMAT_VERSION, ModelFileError, read, save

__all__ = ["FORMAT_VERSION", "ModelFileError", "export_onnx", "read", "save"]
