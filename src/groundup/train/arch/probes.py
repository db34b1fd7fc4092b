"""What the complexity table of the modern architectures says, measured: memory and decoding cost
against sequence length (curriculum 3.4, used by `arch.compare`).

- `attention_memory`: peak tensor bytes of one attention call (B = 1) for naive attention (the T x T
  scores: O(T^2)), our tiled flash attention (O(T)) and torch's fused SDPA (its work buffers are
  internal to the kernel, so only the output shows).
- `forward_memory`: peak tensor bytes of each model's whole forward pass over T tokens (no grad).
- `state_bytes`: what decoding keeps after T tokens: a KV cache grows with T, a recurrent state does not.
- `decode_latency`: seconds per generated token against its position, greedy, through the model's own
  cache: flat for the recurrent models, slowly growing for attention over a KV cache.

Models are built fresh (random weights: none of this depends on training) with a context of the
longest probe.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from groundup.models.flash_attention import flash_attention, naive_attention
from groundup.profiling.tensor_memory import peak_tensor_bytes
from groundup.train.config import make_config
from groundup.train.zoo import build_model


def probe_model(name: str, arch: dict, vocab_size: int, context: int) -> torch.nn.Module:
    """A fresh `name` model of the comparison's shape with a context of `context` tokens, eval mode."""
    torch.manual_seed(0)
    return build_model(make_config(model=name, block_size=context, **arch), vocab_size).eval()


@torch.no_grad()
def attention_memory(lengths, n_heads: int = 4, head_dim: int = 36) -> list[dict]:
    """Peak tensor MiB of causal attention over T tokens, per implementation."""
    rows = []
    for T in lengths:
        q, k, v = (torch.randn(1, n_heads, T, head_dim) for _ in range(3))
        rows.append(
            {
                "T": T,
                "naive": peak_tensor_bytes(naive_attention, q, k, v, causal=True) / 2**20,
                "flash (ours)": peak_tensor_bytes(flash_attention, q, k, v, causal=True) / 2**20,
                "sdpa (fused)": peak_tensor_bytes(F.scaled_dot_product_attention, q, k, v, is_causal=True)
                / 2**20,
            }
        )
    return rows


@torch.no_grad()
def forward_memory(archs: dict[str, dict], vocab_size: int, lengths) -> list[dict]:
    """Peak tensor MiB of one forward pass over T tokens (batch 1), per model."""
    rows = []
    models = {name: probe_model(name, arch, vocab_size, max(lengths)) for name, arch in archs.items()}
    for T in lengths:
        ids = torch.randint(0, vocab_size, (1, T))
        rows.append({"T": T, **{name: peak_tensor_bytes(m, ids) / 2**20 for name, m in models.items()}})
    return rows


@torch.no_grad()
def state_bytes(archs: dict[str, dict], vocab_size: int, lengths) -> list[dict]:
    """MiB of the decoding cache after T tokens (batch 1): KV cache (pre-allocated to T) or state."""
    rows = []
    for T in lengths:
        row = {"T": T}
        for name, arch in archs.items():
            model = probe_model(name, arch, vocab_size, T)
            cache = model.new_cache(1, T)
            model(torch.randint(0, vocab_size, (1, min(T, 8))), kv_cache=cache)  # fills a recurrent state
            row[name] = cache_nbytes(cache) / 2**20
        rows.append(row)
    return rows


def cache_nbytes(cache) -> int:
    if hasattr(cache, "nbytes"):
        return cache.nbytes()
    return cache.k.nbytes + cache.v.nbytes + cache.valid.nbytes


@torch.inference_mode()
def decode_latency(model, n_tokens: int, prompt_len: int = 16) -> list[float]:
    """Seconds for each of `n_tokens` greedy decoding steps after a `prompt_len`-token prompt."""
    cache = model.new_cache(1, prompt_len + n_tokens)
    prompt = torch.randint(0, model.vocab_size, (1, prompt_len))
    token = model(prompt, kv_cache=cache, logits_index=slice(-1, None))[:, -1].argmax(-1, keepdim=True)
    times = []
    for _ in range(n_tokens):
        start = time.perf_counter()
        token = model(token, kv_cache=cache)[:, -1].argmax(-1, keepdim=True)  # (1, 1)
        times.append(time.perf_counter() - start)
    return times


def decode_profile(archs: dict[str, dict], vocab_size: int, n_tokens: int, prompt_len: int = 16) -> dict:
    """Per model: per-token seconds by position, overall tokens/s, and early vs late per-token cost."""
    out = {}
    for name, arch in archs.items():
        model = probe_model(name, arch, vocab_size, prompt_len + n_tokens)
        decode_latency(model, min(8, n_tokens), prompt_len)  # warm-up
        times = decode_latency(model, n_tokens, prompt_len)
        quarter = max(1, n_tokens // 4)
        out[name] = {
            "times_s": times,
            "tokens_per_s": n_tokens / sum(times),
            "first_quarter_ms": 1e3 * sorted(times[:quarter])[quarter // 2],
            "last_quarter_ms": 1e3 * sorted(times[-quarter:])[quarter // 2],
        }
    return out
