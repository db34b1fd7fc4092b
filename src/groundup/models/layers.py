"""Shared Transformer building blocks: RMSNorm, rotary embeddings, grouped-query attention, SwiGLU,
and the KV-cache protocol with a contiguous pre-allocated cache.

Model files (llama.py, ...) compose these; the attention never touches cache memory itself. Every
attention layer calls

    out = kv_cache.attend(layer_idx, q, k, v)     # q (..., T, H, D), k/v (..., T, Hkv, D) -> (..., T, H, D)

with the *new* tokens' queries, keys and values (RoPE already applied). The cache stores k/v
wherever it keeps memory, gathers the keys each query may see and runs attention. Anything with
that one method is a KV cache (`KVCache` below): `NoCache` (plain causal attention, nothing kept),
`ContiguousKVCache` (one pre-allocated buffer per layer, for `generate`), or the serving engine's
paged cache (blocks + block tables), which plugs in without changing the model.
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * weight (Zhang & Sennrich 2019): LayerNorm without centring."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32:  # one fused kernel: fewer small ops per decoded token
            return F.rms_norm(x, self.weight.shape, self.weight, self.eps)
        variance = x.float().pow(2).mean(-1, keepdim=True)  # (..., 1), in float32 even for half inputs
        return self.weight * (x.float() * torch.rsqrt(variance + self.eps)).to(x.dtype)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (Su et al. 2021, RoFormer), "half-split" layout.

    Dimension i of the first half and i + D/2 of the second form a 2-D pair rotated by the angle
    position * theta^(-2i/D). q . k then depends only on the distance between the two positions.
    `scaling` > 1 stretches positions linearly (position interpolation); `freq_factors` divide the
    per-pair frequencies (the Llama-3 long-context scheme, stored in GGUF as `rope_freqs.weight`).
    """

    def __init__(
        self,
        head_dim: int,
        max_positions: int,
        theta: float = 10000.0,
        scaling: float = 1.0,
        freq_factors: torch.Tensor | None = None,
    ):
        super().__init__()
        inv_freq = 1.0 / (
            theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim)
        )  # (D/2,)
        if freq_factors is not None:
            inv_freq = inv_freq / freq_factors.float()
        positions = torch.arange(max_positions, dtype=torch.float32) / scaling
        angles = torch.outer(positions, inv_freq)  # (P, D/2)
        angles = torch.cat([angles, angles], dim=-1)  # (P, D)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)
        self.max_positions = max_positions

    def forward(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """positions (..., T) -> (cos, sin), each (..., T, 1, D): computed once per forward, shared by
        every layer through `apply_rotary`."""
        return self.cos[positions].unsqueeze(-2), self.sin[positions].unsqueeze(-2)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x (..., T, H, D) rotated pairwise: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin)."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


class KVCache(Protocol):
    """What an attention layer needs from a cache (see the module docstring)."""

    def attend(
        self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float | None = None
    ) -> torch.Tensor: ...


def _sdpa(q, k, v, mask=None, causal=False, scale=None):
    """q (..., H, Tq, D), k/v (..., Hkv, Tk, D) -> (..., H, Tq, D); grouped heads without copies."""
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=causal, scale=scale, enable_gqa=k.shape[-3] != q.shape[-3]
    )


class NoCache:
    """Causal attention over the tokens of this call only; nothing is stored (training, scoring)."""

    def attend(self, layer, q, k, v, scale=None):
        out = _sdpa(q.transpose(-3, -2), k.transpose(-3, -2), v.transpose(-3, -2), causal=True, scale=scale)
        return out.transpose(-3, -2)  # (..., T, H, D)


class ContiguousKVCache:
    """One pre-allocated (B, Hkv, max_len, D) buffer per layer for K and for V.

    Each layer appends its new keys at its own fill level, so a forward over T tokens costs O(T)
    new projections whatever came before. `valid` (B, max_len) marks real (non-padding) slots: set
    it for left-padded batched prompts with `mask_padding`. `reorder` permutes the batch rows (beam
    search keeps the caches of the surviving beams).
    """

    def __init__(
        self, n_layers, batch_size, max_len, n_kv_heads, head_dim, dtype=torch.float32, device="cpu"
    ):
        shape = (n_layers, batch_size, n_kv_heads, max_len, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.valid = torch.ones(batch_size, max_len, dtype=torch.bool, device=device)
        self.has_padding = False
        self.lengths = [0] * n_layers
        self.max_len = max_len

    @property
    def length(self) -> int:
        """Tokens stored so far (by the first layer)."""
        return self.lengths[0]

    def mask_padding(self, valid: torch.Tensor) -> None:
        """valid (B, T): False for padding tokens of the next T tokens to be stored."""
        start = self.length
        self.valid[:, start : start + valid.shape[1]] = valid
        self.has_padding = self.has_padding or not bool(valid.all())

    def reorder(self, rows: torch.Tensor) -> None:
        """Keep batch rows `rows` (B_new,) in this order (rows may repeat)."""
        self.k = self.k[:, rows]
        self.v = self.v[:, rows]
        self.valid = self.valid[rows]

    def attend(self, layer, q, k, v, scale=None):
        start, t = self.lengths[layer], q.shape[-3]
        end = start + t
        if end > self.max_len:
            raise ValueError(
                f"kv_cache: {end} tokens exceed the cache length {self.max_len}; allocate a longer cache"
            )
        self.k[layer, :, :, start:end] = k.transpose(-3, -2)  # (B, Hkv, T, D)
        self.v[layer, :, :, start:end] = v.transpose(-3, -2)
        self.lengths[layer] = end
        keys, values = self.k[layer, :, :, :end], self.v[layer, :, :, :end]  # (B, Hkv, end, D)
        q = q.transpose(-3, -2)  # (B, H, T, D)
        if not self.has_padding and (start == 0 or t == 1):
            out = _sdpa(q, keys, values, causal=start == 0 and t > 1, scale=scale)
        else:
            query_pos = torch.arange(start, end, device=q.device)[:, None]  # (T, 1)
            causal = torch.arange(end, device=q.device)[None, :] <= query_pos  # (T, end)
            mask = causal[None, None] & self.valid[:, None, None, :end]  # (B, 1, T, end)
            mask = mask | ~mask.any(-1, keepdim=True)  # a padding query with no key gets all keys, not NaN
            out = _sdpa(q, keys, values, mask=mask, scale=scale)
        return out.transpose(-3, -2)  # (B, T, H, D)


class Attention(nn.Module):
    """Multi-head attention with grouped key/value heads (GQA, Ainslie et al. 2023).

    One fused projection gives q, k and v: H query heads share Hkv key/value heads (H % Hkv == 0),
    which shrinks the KV cache H/Hkv times.
    """

    def __init__(self, dim: int, n_heads: int, n_kv_heads: int, head_dim: int, bias: bool = False):
        super().__init__()
        if n_heads % n_kv_heads:
            raise ValueError(f"n_kv_heads: {n_kv_heads} must divide n_heads {n_heads}")
        self.n_heads, self.n_kv_heads, self.head_dim = n_heads, n_kv_heads, head_dim
        self.qkv = nn.Linear(dim, (n_heads + 2 * n_kv_heads) * head_dim, bias=bias)
        self.out = nn.Linear(n_heads * head_dim, dim, bias=False)
        self.scale = 1.0 / math.sqrt(head_dim)

    def forward(
        self, x, rope: tuple[torch.Tensor, torch.Tensor], kv_cache: KVCache, layer: int
    ) -> torch.Tensor:
        """x (..., T, C), rope: (cos, sin) from `RotaryEmbedding(positions)` -> (..., T, C)."""
        lead = x.shape[:-1]
        q_size, kv_size = self.n_heads * self.head_dim, self.n_kv_heads * self.head_dim
        q, k, v = self.qkv(x).split([q_size, kv_size, kv_size], dim=-1)
        q = apply_rotary(q.view(*lead, self.n_heads, self.head_dim), *rope)  # (..., T, H, D)
        k = apply_rotary(k.view(*lead, self.n_kv_heads, self.head_dim), *rope)  # (..., T, Hkv, D)
        v = v.view(*lead, self.n_kv_heads, self.head_dim)
        y = kv_cache.attend(layer, q, k, v, scale=self.scale)  # (..., T, H, D)
        return self.out(y.reshape(*lead, q_size))


class SwiGLU(nn.Module):
    """Gated MLP (Shazeer 2020): down(silu(gate(x)) * up(x)), gate and up fused in one matmul."""

    def __init__(self, dim: int, hidden_dim: int, bias: bool = False):
        super().__init__()
        self.gate_up = nn.Linear(dim, 2 * hidden_dim, bias=bias)
        self.down = nn.Linear(hidden_dim, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)  # (..., hidden) each
        return self.down(F.silu(gate) * up)
