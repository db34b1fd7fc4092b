"""Export and deployment formats: ONNX export and an ONNX Runtime runner (`onnx.py`), and the GGUF
capstone comparison of file types (`compare.py`).

Names load from their submodules on first use (`groundup.lazy`)."""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "onnx": [
            "LlamaWithCache",
            "OnnxCausalLM",
            "check",
            "export_causal_lm",
            "export_classifier",
            "export_llama_with_cache",
            "session",
        ],
        "compare": ["CompareConfig", "compare_files", "render_table"],
    },
)
