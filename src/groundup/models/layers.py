"""The one Transformer stack: every decoder and encoder in `models/` is built from these blocks.

    norms       RMSNorm (Llama); LayerNorm is torch's own
    positions   learned table, fixed sinusoids (`sinusoidal_positions`), rotary (`RotaryEmbedding`)
    attention   `Attention` (self-attention, grouped K/V heads) and `CrossAttention` (encoder-decoder)
    MLPs        `MLP` (GELU/ReLU, GPT-2 and BERT) and `SwiGLU` (Llama)
    caches      the KV-cache protocol, `NoCache` and `ContiguousKVCache`
    interface   `CausalLM`: what `generate`, `eval` and `serve` need from any decoder

Self-attention never touches cache memory itself. Every attention layer calls

    out = kv_cache.attend(layer_idx, q, k, v)     # q (..., T, H, D), k/v (..., T, Hkv, D) -> (..., T, H, D)

with the *new* tokens' queries, keys and values (rotary positions already applied). The cache stores
k/v wherever it keeps memory, gathers the keys each query may see and runs attention. Anything with
that one method (and `length`, the tokens it holds) is a KV cache: `NoCache` (attention over this
call's tokens only: causal for training and scoring, bidirectional for encoders), `ContiguousKVCache`
(one pre-allocated buffer per layer, for `generate`), or the serving engine's paged pool (blocks +
block tables), which plugs in without changing any model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from groundup.models.rope_scaling import RopeScaling, rope_frequencies

# ---- norms -------------------------------------------------------------------------------------------


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


# ---- positions -----------------------------------------------------------------------------------------


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """Fixed positions of Vaswani et al.: PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(same)."""
    position = torch.arange(length, dtype=torch.float64)[:, None]  # (T, 1)
    inv_freq = 10000.0 ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (d/2,)
    angles = position * inv_freq  # (T, d/2)
    pe = torch.zeros(length, dim, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : dim // 2])
    return pe.float()


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (Su et al. 2021, RoFormer), "half-split" layout.

    Dimension i of the first half and i + D/2 of the second form a 2-D pair rotated by the angle
    position * theta^(-2i/D). q . k then depends only on the distance between the two positions.
    `scaling` > 1 stretches positions linearly (position interpolation); `freq_factors` divide the
    per-pair frequencies (the Llama-3 long-context scheme, stored in GGUF as `rope_freqs.weight`).
    `rope_scaling` picks a frequency scheme of `rope_scaling.py` (linear, NTK-aware, dynamic NTK, YaRN,
    Llama 3); YaRN's attention factor scales cos and sin, dynamic NTK recomputes the angles when the
    positions run past the original context.
    """

    def __init__(
        self,
        head_dim: int,
        max_positions: int,
        theta: float = 10000.0,
        scaling: float = 1.0,
        freq_factors: torch.Tensor | None = None,
        rope_scaling: RopeScaling | None = None,
    ):
        super().__init__()
        inv_freq = 1.0 / (
            theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim)
        )  # (D/2,)
        attention = 1.0
        if rope_scaling is not None:
            inv_freq, attention = rope_frequencies(head_dim, theta, rope_scaling)
        if freq_factors is not None:
            inv_freq = inv_freq / freq_factors.float()
        positions = torch.arange(max_positions, dtype=torch.float32) / scaling
        angles = torch.outer(positions, inv_freq)  # (P, D/2)
        angles = torch.cat([angles, angles], dim=-1)  # (P, D)
        self.register_buffer("cos", angles.cos() * attention, persistent=False)
        self.register_buffer("sin", angles.sin() * attention, persistent=False)
        self.max_positions = max_positions
        self.head_dim, self.theta, self.rope_scaling = head_dim, theta, rope_scaling

    def forward(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """positions (..., T) -> (cos, sin), each (..., T, 1, D): computed once per forward, shared by
        every layer through `apply_rotary`."""
        dynamic = self.rope_scaling is not None and self.rope_scaling.kind == "dynamic"
        if dynamic and int(positions.max()) >= self.rope_scaling.original_max_positions:
            return self.dynamic_angles(positions)
        return self.cos[positions].unsqueeze(-2), self.sin[positions].unsqueeze(-2)

    def dynamic_angles(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Dynamic NTK past the original context: the base grows with the longest position asked for."""
        longest = int(positions.max()) + 1
        inv_freq, _ = rope_frequencies(self.head_dim, self.theta, self.rope_scaling, seq_len=longest)
        angles = positions.float()[..., None] * inv_freq.to(positions.device)  # (..., T, D/2)
        angles = torch.cat([angles, angles], dim=-1).unsqueeze(-2)  # (..., T, 1, D)
        return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x (..., T, H, D) rotated pairwise: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin)."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


def resolve_positions(
    input_ids: torch.Tensor, positions: torch.Tensor | None, kv_cache, max_context: int
) -> torch.Tensor:
    """The absolute position of every input token, checked against the context window.

    Without explicit positions the tokens follow what the cache already holds (`kv_cache.length`;
    0 without a cache), the same for every row. Explicit positions serve left-padded batches and the
    engine's packed sequences. Returns (T,) or the explicit (..., T) tensor.
    """
    if positions is None:
        start = kv_cache.length if kv_cache is not None else 0
        end = start + input_ids.shape[-1]
        last = end - 1
        positions = torch.arange(start, end, device=input_ids.device)  # (T,): broadcasts over rows
    else:
        last = int(positions.max())
    if last >= max_context:
        raise ValueError(f"positions: position {last} is beyond the context window of {max_context}")
    return positions


# ---- attention -------------------------------------------------------------------------------------------


def scaled_dot_product(q, k, v, *, causal=False, mask=None, scale=None, dropout=0.0) -> torch.Tensor:
    """softmax(q k^T * scale + mask) v: q (..., H, Tq, D), k/v (..., Hkv, Tk, D) -> (..., H, Tq, D).

    Grouped K/V heads (Hkv < H) are shared without copies. torch picks a fused kernel where one exists.
    """
    gqa = k.shape[-3] != q.shape[-3]
    if q.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
        # Under CPU bf16 autocast SDPA would run its bf16 flash kernel, whose backward is ~10x slower
        # than the fp32 one (torch 2.13, AVX-512); attention is a small share of the FLOPs, so it runs
        # in fp32 (also the more accurate choice) while the projections stay in bf16.
        with torch.autocast("cpu", enabled=False):
            q, k, v = q.float(), k.float(), v.float()
            return F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=causal, scale=scale, enable_gqa=gqa
            )
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=causal, scale=scale, enable_gqa=gqa
    )


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """ALiBi head slopes (Press et al. 2022): for H a power of two, m_h = 2^(-8h/H), h = 1..H; otherwise
    the slopes of the power of two below H, then every other slope of the one above. (H,)"""
    if n_heads < 1:
        raise ValueError(f"n_heads must be >= 1, got {n_heads}")

    def powers(n: int) -> list[float]:
        return [2.0 ** (-8.0 * h / n) for h in range(1, n + 1)]

    below = 2 ** math.floor(math.log2(n_heads))
    slopes = powers(below) + powers(2 * below)[0::2][: n_heads - below]
    return torch.tensor(slopes, dtype=torch.float32)


def attention_bias(
    query_pos: torch.Tensor,
    key_pos: torch.Tensor,
    *,
    causal: bool = True,
    window: int | None = None,
    alibi_slopes: torch.Tensor | None = None,
) -> torch.Tensor:
    """The additive attention bias for queries at `query_pos` (Tq,) over keys at `key_pos` (Tk,).

    -inf where a query may not look: the future (`causal`) and keys `window` or more tokens back
    (sliding window, Mistral's convention: a query sees itself and the window - 1 tokens before it);
    -m_h * (i - j) with ALiBi, a penalty linear in the distance. (H or 1, Tq, Tk), float32.
    """
    if window is not None and window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    distance = (query_pos[:, None] - key_pos[None, :]).float()  # (Tq, Tk): i - j
    blocked = torch.zeros_like(distance, dtype=torch.bool)
    if causal:
        blocked |= distance < 0
    if window is not None:
        blocked |= distance >= window
    bias = torch.zeros_like(distance)[None]  # (1, Tq, Tk)
    if alibi_slopes is not None:
        bias = -alibi_slopes.to(distance.device)[:, None, None] * distance.abs()  # (H, Tq, Tk)
    return bias.masked_fill(blocked, -math.inf)


class Attention(nn.Module):
    """Multi-head self-attention with grouped key/value heads (GQA, Ainslie et al. 2023).

    One fused projection gives q, k and v: H query heads share Hkv key/value heads (H % Hkv == 0;
    Hkv = H is classic multi-head attention), which shrinks the KV cache H/Hkv times. `bias` puts
    biases on the q/k/v projection (GPT-2, Qwen) and, unless `out_bias` says otherwise, on the output
    projection. `dropout` applies to the output (GPT-2's residual dropout); dropout on the attention
    weights belongs to the attention backend (`NoCache(dropout=...)`).
    """

    def __init__(
        self,
        dim: int,
        n_heads: int,
        n_kv_heads: int | None = None,
        head_dim: int | None = None,
        *,
        bias: bool = False,
        out_bias: bool | None = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        n_kv_heads, head_dim = n_kv_heads or n_heads, head_dim or dim // n_heads
        if n_heads % n_kv_heads:
            raise ValueError(f"n_kv_heads: {n_kv_heads} must divide n_heads {n_heads}")
        self.n_heads, self.n_kv_heads, self.head_dim = n_heads, n_kv_heads, head_dim
        self.qkv = nn.Linear(dim, (n_heads + 2 * n_kv_heads) * head_dim, bias=bias)
        self.out = nn.Linear(n_heads * head_dim, dim, bias=bias if out_bias is None else out_bias)
        self.resid_dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.scale = 1.0 / math.sqrt(head_dim)

    def forward(self, x: torch.Tensor, kv_cache: KVCache, layer: int, rope=None) -> torch.Tensor:
        """x (..., T, C) -> (..., T, C). `rope`: (cos, sin) from `RotaryEmbedding(positions)`, or None
        for models whose positions were added to the token embeddings."""
        lead = x.shape[:-1]
        q_size, kv_size = self.n_heads * self.head_dim, self.n_kv_heads * self.head_dim
        q, k, v = self.qkv(x).split([q_size, kv_size, kv_size], dim=-1)
        q = q.view(*lead, self.n_heads, self.head_dim)  # (..., T, H, D)
        k = k.view(*lead, self.n_kv_heads, self.head_dim)  # (..., T, Hkv, D)
        v = v.view(*lead, self.n_kv_heads, self.head_dim)
        if rope is not None:  # rotary positions turn queries and keys only
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        y = kv_cache.attend(layer, q, k, v, scale=self.scale)  # (..., T, H, D)
        return self.resid_dropout(self.out(y.reshape(*lead, q_size)))


class CrossAttention(nn.Module):
    """Attention whose queries come from x (the decoder) and keys/values from `memory` (the encoder
    output), as in the original encoder-decoder Transformer. Every query sees every memory position."""

    def __init__(self, dim: int, n_heads: int, *, bias: bool = False, dropout: float = 0.0):
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.q = nn.Linear(dim, dim, bias=bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=bias)
        self.out = nn.Linear(dim, dim, bias=bias)
        self.resid_dropout = nn.Dropout(dropout) if dropout else nn.Identity()

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """x (B, T, C), memory (B, S, C) -> (B, T, C)."""
        B, T, C = x.shape
        heads = lambda t: t.view(B, -1, self.n_heads, C // self.n_heads).transpose(1, 2)  # noqa: E731
        q = heads(self.q(x))  # (B, H, T, D)
        k, v = (heads(t) for t in self.kv(memory).split(C, dim=-1))  # (B, H, S, D) each
        y = scaled_dot_product(q, k, v, dropout=self.dropout if self.training else 0.0)  # (B, H, T, D)
        return self.resid_dropout(self.out(y.transpose(1, 2).reshape(B, T, C)))


# ---- MLPs -----------------------------------------------------------------------------------------------

ACTIVATIONS = {
    "gelu": lambda: nn.GELU(),
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"),  # GPT-2's original approximation
    "relu": lambda: nn.ReLU(),
}


class MLP(nn.Module):
    """Position-wise feed-forward: Linear(C, hidden) -> GELU/ReLU -> Linear(hidden, C) -> dropout."""

    def __init__(
        self, dim: int, hidden_dim: int, activation: str = "gelu", *, bias: bool = True, dropout: float = 0.0
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        self.fc = nn.Linear(dim, hidden_dim, bias=bias)
        self.act = ACTIVATIONS[activation]()
        self.proj = nn.Linear(hidden_dim, dim, bias=bias)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(self.act(self.fc(x))))


class SwiGLU(nn.Module):
    """Gated MLP (Shazeer 2020): down(silu(gate(x)) * up(x)), gate and up fused in one matmul."""

    def __init__(self, dim: int, hidden_dim: int, bias: bool = False):
        super().__init__()
        self.gate_up = nn.Linear(dim, 2 * hidden_dim, bias=bias)
        self.down = nn.Linear(hidden_dim, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)  # (..., hidden) each
        return self.down(F.silu(gate) * up)


# ---- KV caches ----------------------------------------------------------------------------------------


class KVCache(Protocol):
    """What an attention layer needs from a cache (see the module docstring)."""

    @property
    def length(self) -> int:
        """Tokens already stored (per row); where rows differ, the caller passes explicit positions."""
        ...

    def attend(
        self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float | None = None
    ) -> torch.Tensor: ...


class NoCache:
    """Attention over the tokens of this call only; nothing is stored (training, scoring, encoders).

    `causal=False` lets every token see every other (BERT-style encoders); `dropout` drops attention
    weights (pass it only while training). `window` restricts each query to the last `window` tokens
    (sliding-window attention); `alibi_slopes` (H,) adds ALiBi's distance penalty (see `attention_bias`);
    `key_mask` (..., T) bool, False on padding, hides padded keys from every query (a padded batch of
    sentences).
    """

    length = 0

    def __init__(
        self,
        causal: bool = True,
        dropout: float = 0.0,
        key_mask: torch.Tensor | None = None,
        *,
        window: int | None = None,
        alibi_slopes: torch.Tensor | None = None,
    ):
        if window is not None and window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.causal, self.dropout, self.key_mask = causal, dropout, key_mask
        self.window, self.alibi_slopes = window, alibi_slopes

    def attend(self, layer, q, k, v, scale=None):
        q, k, v = (t.transpose(-3, -2) for t in (q, k, v))  # (..., H, T, D)
        if self.window is None and self.alibi_slopes is None and self.key_mask is None:
            out = scaled_dot_product(q, k, v, causal=self.causal, scale=scale, dropout=self.dropout)
        else:
            out = scaled_dot_product(q, k, v, mask=self._mask(q), scale=scale, dropout=self.dropout)
        return out.transpose(-3, -2)  # (..., T, H, D)

    def _mask(self, q: torch.Tensor) -> torch.Tensor:
        """This call's mask: boolean when only padding and causality apply, else an additive bias."""
        t = q.shape[-2]
        if self.window is None and self.alibi_slopes is None:
            mask = self.key_mask[..., None, None, :]  # (..., 1, 1, T): the same keys hidden from every query
            if self.causal:
                mask = mask & torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
            return mask
        pos = torch.arange(t, device=q.device)
        bias = attention_bias(
            pos, pos, causal=self.causal, window=self.window, alibi_slopes=self.alibi_slopes
        )
        bias = bias.to(q.dtype)
        if self.key_mask is not None:  # (..., 1, 1, T) padding on top of the window / ALiBi bias
            bias = torch.where(self.key_mask[..., None, None, :], bias, float("-inf"))
        return bias


@dataclass(frozen=True)
class CacheSpec:
    """The shape of a model's KV cache: what a cache (or the serving engine's pool) must allocate."""

    n_layers: int
    n_kv_heads: int
    head_dim: int


class ContiguousKVCache:
    """One pre-allocated (B, Hkv, max_len, D) buffer per layer for K and for V.

    Each layer appends its new keys at its own fill level, so a forward over T tokens costs O(T)
    new projections whatever came before. `valid` (B, max_len) marks real (non-padding) slots: set
    it for left-padded batched prompts with `mask_padding`. `reorder` permutes the batch rows (beam
    search keeps the caches of the surviving beams). `window` and `alibi_slopes` give the sliding-window
    and ALiBi attention of `NoCache` to cached decoding (the buffer still holds every token).
    """

    def __init__(
        self,
        n_layers,
        batch_size,
        max_len,
        n_kv_heads,
        head_dim,
        dtype=torch.float32,
        device="cpu",
        *,
        window: int | None = None,
        alibi_slopes: torch.Tensor | None = None,
    ):
        if window is not None and not 1 <= window <= max_len:
            raise ValueError(f"window must be between 1 and the cache length {max_len}, got {window}")
        self.window, self.alibi_slopes = window, alibi_slopes
        shape = (n_layers, batch_size, n_kv_heads, max_len, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.valid = torch.ones(batch_size, max_len, dtype=torch.bool, device=device)
        self.has_padding = False
        self.lengths = [0] * n_layers
        self.max_len = max_len

    @classmethod
    def for_model(cls, model: nn.Module, batch_size: int = 1, max_len: int | None = None):
        """A cache for `batch_size` sequences of up to `max_len` tokens (default and cap: the model's
        context), in the dtype and on the device of the model's weights."""
        spec, p = model.cache_spec, next(model.parameters())
        max_len = min(max_len or model.max_context, model.max_context)
        return cls(spec.n_layers, batch_size, max_len, spec.n_kv_heads, spec.head_dim, p.dtype, p.device)

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
        plain = self.window is None and self.alibi_slopes is None
        if plain and not self.has_padding and (start == 0 or t == 1):
            out = scaled_dot_product(q, keys, values, causal=start == 0 and t > 1, scale=scale)
        elif not plain:
            query_pos, key_pos = torch.arange(start, end, device=q.device), torch.arange(end, device=q.device)
            bias = attention_bias(query_pos, key_pos, window=self.window, alibi_slopes=self.alibi_slopes)
            bias = bias.masked_fill(~self.valid[:, None, None, :end], -math.inf)  # (B, H or 1, T, end)
            bias = bias.masked_fill(bias.isinf().all(-1, keepdim=True), 0.0)  # a query with no key: no NaN
            out = scaled_dot_product(q, keys, values, mask=bias.to(q.dtype), scale=scale)
        else:
            query_pos = torch.arange(start, end, device=q.device)[:, None]  # (T, 1)
            causal = torch.arange(end, device=q.device)[None, :] <= query_pos  # (T, end)
            mask = causal[None, None] & self.valid[:, None, None, :end]  # (B, 1, T, end)
            mask = mask | ~mask.any(-1, keepdim=True)  # a padding query with no key gets all keys, not NaN
            out = scaled_dot_product(q, keys, values, mask=mask, scale=scale)
        return out.transpose(-3, -2)  # (B, T, H, D)


# ---- the model interface ---------------------------------------------------------------------------------


@runtime_checkable
class CausalLM(Protocol):
    """What `generate`, `eval` and `serve` need from a decoder-only language model (Llama, GPT, ...).

        model(input_ids (..., T), positions (..., T) | None, kv_cache | None, logits_index | None)
            -> logits (..., T or len(logits_index), vocab)

    Positions default to the ones after what `kv_cache` holds; without a cache attention is causal
    over the T tokens. `logits_index` keeps only those rows of the T axis before the LM head (the most
    expensive matmul of a small model: generation wants the last row only). `new_cache` allocates a
    `ContiguousKVCache`; `cache_spec` tells the serving engine what its paged pool must hold. Models
    also accept `num_layers` (run only the first layers: the layer-skip self-draft of `serve`).
    """

    vocab_size: int
    max_context: int
    cache_spec: CacheSpec

    def __call__(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor | None = None,
        kv_cache: KVCache | None = None,
        logits_index: torch.Tensor | slice | None = None,
    ) -> torch.Tensor: ...

    def new_cache(self, batch_size: int = 1, max_len: int | None = None) -> ContiguousKVCache: ...
