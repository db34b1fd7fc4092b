"""File formats in pure Python/NumPy: GGUF reader and writer, ggml quantization blocks."""

from groundup.formats.ggml_types import GGMLType
from groundup.formats.gguf import GGUFError, GGUFReader, TensorInfo, ValueType

__all__ = ["GGMLType", "GGUFError", "GGUFReader", "TensorInfo", "ValueType"]
