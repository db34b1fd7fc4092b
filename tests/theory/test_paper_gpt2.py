"""GPT-2 124M: our configuration has transformers' parameter count, 124,439,808."""

from __future__ import annotations

import pytest
import torch

from groundup.theory.papers.gpt2 import GPT2_SMALL, gpt2_config, gpt2_parameter_count, parameter_formula

pytestmark = pytest.mark.module("0.10")


def test_gpt2_small_has_124_439_808_parameters_like_transformers():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.GPT2Config(
        vocab_size=GPT2_SMALL["vocab_size"],
        n_positions=GPT2_SMALL["block_size"],
        n_embd=GPT2_SMALL["n_embd"],
        n_layer=GPT2_SMALL["n_layer"],
        n_head=GPT2_SMALL["n_head"],
    )
    with torch.device("meta"):
        theirs = transformers.GPT2LMHeadModel(cfg).num_parameters()
    ours = gpt2_parameter_count()
    assert ours == theirs == 124_439_808
    assert parameter_formula(gpt2_config()) == ours


@pytest.mark.parametrize("n_layer,n_embd,n_head", [(24, 1024, 16), (2, 64, 4)])
def test_other_sizes_match_transformers_too(n_layer, n_embd, n_head):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.GPT2Config(n_layer=n_layer, n_embd=n_embd, n_head=n_head)
    with torch.device("meta"):
        theirs = transformers.GPT2LMHeadModel(cfg).num_parameters()
    assert gpt2_parameter_count(n_layer=n_layer, n_embd=n_embd, n_head=n_head) == theirs
