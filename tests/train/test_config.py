"""Config, presets and overrides (0.8): the CPU preset is nanoGPT's recipe; bad keys name the valid ones."""

from __future__ import annotations

import pytest

from groundup.errors import GroundupError
from groundup.train.config import PRESETS, TrainConfig, arch_differences, make_config, parse_overrides

pytestmark = pytest.mark.module("0.8")


def test_shakespeare_cpu_preset_is_the_nanogpt_cpu_recipe():
    cfg = make_config("shakespeare-char-cpu")
    assert (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.block_size, cfg.batch_size) == (4, 4, 128, 64, 12)
    assert (cfg.max_iters, cfg.lr_decay_iters, cfg.lr, cfg.min_lr, cfg.warmup_iters) == (
        2000,
        2000,
        1e-3,
        1e-4,
        100,
    )
    assert (cfg.beta2, cfg.dropout, cfg.weight_decay, cfg.grad_clip, cfg.bias) == (0.99, 0.0, 0.1, 1.0, False)


def test_overrides_parse_both_spellings_and_types():
    got = parse_overrides(
        ["--max-iters=50", "--n_layer", "3", "--lr=3e-4", "--compile=true", "--dtype", "bfloat16"]
    )
    assert got == {"max_iters": 50, "n_layer": 3, "lr": 3e-4, "compile": True, "dtype": "bfloat16"}
    assert make_config("tiny", **got).max_iters == 50


def test_unknown_preset_and_key_list_the_valid_ones():
    with pytest.raises(GroundupError, match="valid presets: " + ", ".join(PRESETS)):
        make_config("shakespeare-gpu")
    with pytest.raises(GroundupError, match="valid keys: model, dataset"):
        parse_overrides(["--learning-rate=1"])
    with pytest.raises(GroundupError, match="valid models"):
        TrainConfig(model="transformer-xl")
    with pytest.raises(ValueError, match="--n_layer expects a int"):
        parse_overrides(["--n_layer=two"])


def test_arch_differences_list_every_changed_architecture_field():
    saved = TrainConfig().to_dict()
    changed = TrainConfig(n_layer=6, pos="rope", lr=5.0)  # lr is not architecture
    assert arch_differences(saved, changed) == ["n_layer: 4 -> 6", "pos: 'learned' -> 'rope'"]
