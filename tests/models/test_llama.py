"""Our Llama on the real SmolLM2-135M-Instruct against transformers' model from the same GGUF."""

from __future__ import annotations

import pytest
import torch

from groundup.errors import GroundupError
from groundup.models.llama import Llama, LlamaConfig

pytestmark = pytest.mark.module("0.7")

PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):\n    if n < 2:\n        return n\n",
    "<|im_start|>user\nWhat is 12 * 7?<|im_end|>\n<|im_start|>assistant\n",
    "Once upon a time, in a land far, far away, there lived a dragon who loved numbers: 3.14159, 2.71828",
]


@pytest.fixture(scope="module")
def prompt_ids(smollm2_tokenizer):
    return [smollm2_tokenizer.encode(p) for p in PROMPTS]


def test_config_from_gguf_metadata(smollm2, hf_smollm2):
    cfg, hf = smollm2.cfg, hf_smollm2.config
    assert (cfg.dim, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads, cfg.hidden_dim) == (
        hf.hidden_size,
        hf.num_hidden_layers,
        hf.num_attention_heads,
        hf.num_key_value_heads,
        hf.intermediate_size,
    )
    assert cfg.tie_embeddings and cfg.rope_theta == 100000.0 and cfg.max_context == 8192


def test_weights_equal_transformers_after_unpermuting(smollm2, hf_smollm2):
    """q/k rows stored in llama.cpp's interleaved order come back to HF's half-split order exactly."""
    ours, hf = smollm2.blocks[3], hf_smollm2.model.layers[3]
    q, k, v = ours.attn.qkv.weight.split([576, 192, 192])
    torch.testing.assert_close(q, hf.self_attn.q_proj.weight, rtol=0, atol=0)
    torch.testing.assert_close(k, hf.self_attn.k_proj.weight, rtol=0, atol=0)
    torch.testing.assert_close(v, hf.self_attn.v_proj.weight, rtol=0, atol=0)
    torch.testing.assert_close(smollm2.embed.weight, hf_smollm2.model.embed_tokens.weight, rtol=0, atol=0)


@pytest.mark.module("1.4")
@torch.inference_mode()
def test_logits_equal_transformers(smollm2, hf_smollm2, prompt_ids):
    for ids in prompt_ids:
        x = torch.tensor([ids])
        ours = smollm2(x)
        ref = hf_smollm2(x).logits
        diff = (ours - ref).abs().max().item()
        assert diff <= 1e-3, f"max |ours - transformers| = {diff:.2e} for {len(ids)} tokens"


@pytest.mark.module("2.1")
@torch.inference_mode()
def test_kv_cache_decoding_equals_full_forward(smollm2, prompt_ids):
    ids = torch.tensor([prompt_ids[1]])
    full = smollm2(ids)  # (1, T, V)
    cache = smollm2.new_cache(1, ids.shape[1])
    parts = [smollm2(ids[:, :7], kv_cache=cache)]  # prefill, then one token at a time
    parts += [smollm2(ids[:, t : t + 1], kv_cache=cache) for t in range(7, ids.shape[1])]
    assert cache.length == ids.shape[1]
    torch.testing.assert_close(torch.cat(parts, dim=1), full, rtol=0, atol=1e-4)


@pytest.mark.module("2.1")
@torch.inference_mode()
def test_left_padded_batch_equals_single_sequences(smollm2, prompt_ids):
    """Two prompts of different lengths in one batch: left padding + explicit positions + padding mask."""
    a, b = prompt_ids[0], prompt_ids[2]
    width = max(len(a), len(b))
    ids = torch.tensor([[0] * (width - len(a)) + a, [0] * (width - len(b)) + b])
    valid = torch.tensor(
        [[False] * (width - len(a)) + [True] * len(a), [False] * (width - len(b)) + [True] * len(b)]
    )
    positions = (valid.long().cumsum(-1) - 1).clamp(min=0)
    cache = smollm2.new_cache(2, width + 1)
    cache.mask_padding(valid)
    batched = smollm2(ids, positions, cache)[:, -1]  # (2, V): last prompt token of each row
    step = smollm2(torch.tensor([[5], [6]]), positions[:, -1:] + 1, cache)[:, -1]
    for row, seq, nxt in ((0, a, 5), (1, b, 6)):
        single = smollm2(torch.tensor([seq + [nxt]]))[0]
        torch.testing.assert_close(batched[row], single[-2], rtol=0, atol=1e-4)
        torch.testing.assert_close(step[row], single[-1], rtol=0, atol=1e-4)


def test_rejects_other_architectures_and_long_positions(smollm2):
    with pytest.raises(GroundupError, match="unsupported architecture 'gpt2'.*supported: 'llama'"):
        LlamaConfig.from_gguf_metadata({"general.architecture": "gpt2"})
    with pytest.raises(ValueError, match="positions: position 8192 is beyond the context window of 8192"):
        smollm2(torch.tensor([[1]]), torch.tensor([[8192]]))


def test_tiny_random_llama_matches_transformers():
    """Independent of the GGUF path: the same random weights in both implementations."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=97, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=96, max_context=64
    )
    ours = Llama(cfg).eval()
    for p in ours.parameters():
        torch.nn.init.normal_(p, std=0.2)
    hf_cfg = transformers.LlamaConfig(
        vocab_size=97,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=96,
        max_position_embeddings=64,
        rms_norm_eps=cfg.norm_eps,
        rope_theta=cfg.rope_theta,
        tie_word_embeddings=True,
    )
    hf = transformers.LlamaForCausalLM(hf_cfg).eval()
    hf.model.embed_tokens.weight.data.copy_(ours.embed.weight)
    hf.model.norm.weight.data.copy_(ours.norm.weight)
    for blk, layer in zip(ours.blocks, hf.model.layers):
        q, k, v = blk.attn.qkv.weight.split([64, 32, 32])
        layer.self_attn.q_proj.weight.data.copy_(q)
        layer.self_attn.k_proj.weight.data.copy_(k)
        layer.self_attn.v_proj.weight.data.copy_(v)
        layer.self_attn.o_proj.weight.data.copy_(blk.attn.out.weight)
        gate, up = blk.mlp.gate_up.weight.chunk(2)
        layer.mlp.gate_proj.weight.data.copy_(gate)
        layer.mlp.up_proj.weight.data.copy_(up)
        layer.mlp.down_proj.weight.data.copy_(blk.mlp.down.weight)
        layer.input_layernorm.weight.data.copy_(blk.attn_norm.weight)
        layer.post_attention_layernorm.weight.data.copy_(blk.mlp_norm.weight)
    x = torch.randint(0, 97, (3, 20))
    with torch.inference_mode():
        torch.testing.assert_close(ours(x), hf(x).logits, rtol=0, atol=1e-4)
