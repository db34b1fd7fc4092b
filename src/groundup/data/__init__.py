"""Bundled model files and datasets: where they are, and how to get them when they are not."""

from groundup.data.assets import cl100k_ranks_path, minilm_dir, mnist_5k_path, smollm2_gguf_path
from groundup.data.datasets import data_dirs, load_mnist_5k, load_sklearn, load_text

__all__ = [
    "cl100k_ranks_path",
    "data_dirs",
    "load_mnist_5k",
    "load_sklearn",
    "load_text",
    "minilm_dir",
    "mnist_5k_path",
    "smollm2_gguf_path",
]
