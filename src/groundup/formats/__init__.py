"""File formats in pure Python/NumPy: GGUF reader and writer, ggml quantization blocks.

Names load from their submodules on first use (`groundup.lazy`)."""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {"ggml_types": ["GGMLType"], "gguf": ["GGUFError", "GGUFReader", "TensorInfo", "ValueType"]},
)
