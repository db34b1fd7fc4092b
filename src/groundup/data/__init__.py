"""Bundled model files and datasets: where they are, and how to get them when they are not.

Names load from their submodules on first use (`groundup.lazy`)."""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "assets": ["cl100k_ranks_path", "minilm_dir", "mnist_5k_path", "smollm2_gguf_path"],
        "datasets": ["data_dirs", "load_mnist_5k", "load_sklearn", "load_text", "read_text_file"],
    },
)
