"""Last-layer training on a memoized frozen trunk gives the full model's numbers."""

import pytest
import torch

from groundup.align.batch import encode_examples, token_logprobs
from groundup.align.split import Top, Trunk
from groundup.compress.lora import apply_lora, lora_layers

pytestmark = pytest.mark.module("3.5")


def _batch(tok):
    return encode_examples(tok, ["Hi?", "What is it now?", "Why?"], ["ok", "fine thanks", "because"])


def test_top_over_the_trunk_equals_the_full_model(byte_llama, byte_tokenizer):
    batch = _batch(byte_tokenizer)
    trunk = Trunk(byte_llama, 1)
    top = Top(byte_llama, trunk)
    torch.testing.assert_close(
        token_logprobs(top, batch), token_logprobs(byte_llama, batch), rtol=0, atol=1e-5
    )
    assert len(trunk.memo) == 3
    token_logprobs(top, encode_examples(byte_tokenizer, ["Hi?"], ["ok"]))  # the same row, padded less
    assert len(trunk.memo) == 3


def test_adapters_on_a_shared_top_reach_the_full_model_and_only_the_top_trains(byte_llama, byte_tokenizer):
    batch = _batch(byte_tokenizer)
    top = Top(byte_llama, Trunk(byte_llama, 1))
    apply_lora(top, ["attn.qkv", "attn.out"], r=4)
    for layer in lora_layers(top):
        torch.nn.init.normal_(layer.lora_B, std=0.1)
    assert len(lora_layers(byte_llama)) == 2  # the top block's q/k/v and output projections
    torch.testing.assert_close(
        token_logprobs(top, batch), token_logprobs(byte_llama, batch), rtol=0, atol=1e-5
    )
    token_logprobs(top, batch).sum().backward()
    assert all(p.grad is not None for layer in lora_layers(top) for p in (layer.lora_A, layer.lora_B))
    assert all(p.grad is None for p in byte_llama.blocks[0].parameters())


def test_a_copied_top_is_independent(byte_llama, byte_tokenizer):
    top = Top(byte_llama, Trunk(byte_llama, 1), copy_weights=True)
    apply_lora(top, ["attn.qkv"], r=4)
    assert not lora_layers(byte_llama)
    with pytest.raises(ValueError, match="n_frozen"):
        Trunk(byte_llama, 2)
