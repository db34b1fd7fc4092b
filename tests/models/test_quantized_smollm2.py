"""The real SmolLM2-135M (Q4_1 projections, a Q8_0 tied embedding) kept quantized: every tensor
converts bit for bit, and greedy decoding equals the float32 model's for the first 32 tokens of each
test prompt (logits within 2e-3: float32 rounding of sums reordered by the fused kernel, over 30
layers). Slow: each form loads the whole model."""

from __future__ import annotations

import pytest
import torch

from groundup.data import smollm2_gguf_path
from groundup.models.llama import Llama
from groundup.models.quantized import QuantizedEmbedding, QuantizedLinear
from groundup.profiling import PeakRSS

pytestmark = [pytest.mark.module("1.5"), pytest.mark.slow]

PROMPTS = ["The capital of France is", "def fibonacci(n):", "Once upon a time, a small robot"]
TOKENS = 32


@pytest.fixture(scope="module")
def auto_model():
    with PeakRSS() as mem:
        model = Llama.from_gguf(smollm2_gguf_path(), weights="auto")
    model.peak_rss_mb = mem.peak_mb
    return model


@torch.inference_mode()
def greedy_with_logits(model, prompt_ids, tokens=TOKENS):
    cache = model.new_cache(1, len(prompt_ids) + tokens + 1)
    logits = model(torch.tensor([prompt_ids]), kv_cache=cache)[:, -1]
    out, rows = [int(logits.argmax())], [logits[0]]
    for _ in range(tokens - 1):
        logits = model(torch.tensor([[out[-1]]]), kv_cache=cache)[:, -1]
        out.append(int(logits.argmax()))
        rows.append(logits[0])
    return out, torch.stack(rows)


def test_every_tensor_converts_bit_for_bit(auto_model, smollm2):
    reference = smollm2.state_dict()
    quantized = {n: m for n, m in auto_model.named_modules() if isinstance(m, QuantizedLinear)}
    assert len(quantized) == 4 * smollm2.cfg.n_layers + 1  # qkv, out, gate_up, down per layer; the head
    for name, layer in quantized.items():
        assert torch.equal(layer.dequantize(), reference[f"{name}.weight"]), name
    assert isinstance(auto_model.embed, QuantizedEmbedding) and auto_model.embed.bits == 8
    ids = torch.arange(smollm2.cfg.vocab_size)
    assert torch.equal(auto_model.embed(ids), reference["embed.weight"])


def test_auto_loads_within_twice_the_file_size(auto_model):
    assert auto_model.peak_rss_mb <= 2 * smollm2_gguf_path().stat().st_size / 2**20


@pytest.mark.parametrize("weights", ["auto", "int8"])
def test_greedy_tokens_equal_the_float32_model(weights, auto_model, smollm2, smollm2_tokenizer):
    model = auto_model if weights == "auto" else Llama.from_gguf(smollm2_gguf_path(), weights=weights)
    for prompt in PROMPTS:
        ids = smollm2_tokenizer.encode(prompt)
        tokens, logits = greedy_with_logits(model, ids)
        ref_tokens, ref_logits = greedy_with_logits(smollm2, ids)
        assert tokens == ref_tokens, prompt
        torch.testing.assert_close(logits, ref_logits, rtol=0, atol=2e-3)
