"""RetNet (Sun et al. 2023, "Retentive Network"): retention, one mechanism with three equal forms.

Retention replaces softmax attention with an exponentially decaying, unnormalized sum (per head h a
decay gamma_h = 1 - 2^(-5-h), so heads see different horizons):

    parallel     O = (Q K^T * D) V,          D[n, m] = gamma^(n-m) if n >= m else 0
    recurrent    S_n = gamma S_{n-1} + k_n^T v_n,   o_n = q_n S_n            (S: d x d per head)
    chunkwise    chunks of B tokens: inside a chunk the parallel form, across chunks the state
                 R_i = gamma^B R_{i-1} + K_i^T (V_i * gamma^(B-1-j)),  O_i += (Q_i R_{i-1}) * gamma^(j+1)

All three compute the same numbers (the tests check it to float64 precision): the parallel form trains
(O(T^2) like attention, fully parallel), the recurrent one decodes (O(1) per token, like an RNN), the
chunkwise one serves long sequences (O(T B)). q and k carry rotary positions (the relative-position
rotation of the paper's xPos, without its length extrapolation factor), k is scaled by d^-1/2.

Multi-scale retention (one layer): the heads' outputs are normalized per head (a GroupNorm with one
group per head, which also absorbs the scale of the unnormalized sums), gated by swish(W_G x), and
projected by W_O. The model: embedding -> n_layers x [x + MSR(LN(x)); x + FFN(LN(x))] -> LN -> tied head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from groundup.models.layers import MLP, RotaryEmbedding, apply_rotary, resolve_positions
from groundup.models.recurrent_state import RecurrentState


@dataclass
class RetNetConfig:
    vocab_size: int = 65
    dim: int = 64
    n_layers: int = 4
    n_heads: int = 4
    hidden_dim: int = 0  # FFN width; 0: 4 * dim
    max_context: int = 4096
    chunk_size: int = 0  # > 0: the chunkwise form for sequences longer than this

    def __post_init__(self):
        for name in ("vocab_size", "dim", "n_layers", "n_heads", "max_context"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.dim % self.n_heads or (self.dim // self.n_heads) % 2:
            raise ValueError(f"n_heads: {self.n_heads} must divide dim {self.dim} into even head sizes")
        self.hidden_dim = self.hidden_dim or 4 * self.dim


def decays(n_heads: int) -> torch.Tensor:
    """gamma_h = 1 - 2^(-5-h): from 0.969 (a horizon of ~32 tokens) towards 1 (long memory). (H,)"""
    return 1 - 2.0 ** (-5.0 - torch.arange(n_heads, dtype=torch.float64))


def decay_matrix(gamma: torch.Tensor, T: int) -> torch.Tensor:
    """D[h, n, m] = gamma_h^(n-m) for n >= m, else 0: (H, T, T)."""
    n = torch.arange(T, dtype=gamma.dtype, device=gamma.device)
    gap = n[:, None] - n[None, :]  # (T, T)
    return torch.where(gap >= 0, gamma[:, None, None] ** gap.clamp(min=0), 0.0)


def retention_parallel(q, k, v, gamma) -> torch.Tensor:
    """q, k (B, H, T, Dk), v (B, H, T, Dv), gamma (H,) -> (B, H, T, Dv)."""
    D = decay_matrix(gamma, q.shape[-2]).to(q.dtype)
    return ((q @ k.transpose(-1, -2)) * D) @ v


def retention_recurrent(q, k, v, gamma, state=None):
    """Token by token: S = gamma S + k^T v, o = q S. -> (out (B, H, T, Dv), S (B, H, Dk, Dv))."""
    g = gamma.to(q.dtype)[:, None, None]  # (H, 1, 1)
    S = q.new_zeros(*q.shape[:-2], q.shape[-1], v.shape[-1]) if state is None else state
    outs = []
    for t in range(q.shape[-2]):
        S = g * S + k[..., t, :, None] * v[..., t, None, :]  # (B, H, Dk, Dv)
        outs.append((q[..., t, None, :] @ S).squeeze(-2))  # (B, H, Dv)
    return torch.stack(outs, dim=-2), S


def retention_chunk(q, k, v, gamma, state=None):
    """One chunk of T tokens after `state` R (None: nothing before): the parallel form inside, the
    state for everything earlier. -> (out (B, H, T, Dv), R after the chunk)."""
    T = q.shape[-2]
    g = gamma.to(q.dtype)
    out = retention_parallel(q, k, v, gamma)
    j = torch.arange(T, dtype=q.dtype, device=q.device)
    into_state = g[:, None] ** (T - 1 - j)  # (H, T): how much each token has decayed by the chunk's end
    R = (k * into_state[..., None]).transpose(-1, -2) @ v  # (B, H, Dk, Dv)
    if state is not None:
        out = out + (q @ state) * (g[:, None] ** (j + 1))[..., None]  # the past, decayed to each row
        R = R + (g**T)[:, None, None] * state
    return out, R


def retention_chunkwise(q, k, v, gamma, chunk_size: int, state=None):
    """The chunkwise form over the whole sequence: chunks of `chunk_size`, state carried between."""
    outs = []
    for start in range(0, q.shape[-2], chunk_size):
        part = slice(start, start + chunk_size)
        out, state = retention_chunk(q[..., part, :], k[..., part, :], v[..., part, :], gamma, state)
        outs.append(out)
    return torch.cat(outs, dim=-2), state


class MultiScaleRetention(nn.Module):
    """forward(x (B, T, C), rope, state=None) -> (y (B, T, C), state (B, H, d, d))."""

    def __init__(self, cfg: RetNetConfig):
        super().__init__()
        self.cfg, self.n_heads, self.head_dim = cfg, cfg.n_heads, cfg.dim // cfg.n_heads
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim, bias=False)
        self.gate = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.out = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.register_buffer("gamma", decays(cfg.n_heads), persistent=False)

    def forward(self, x, rope, state=None, form: str = "chunk"):
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_heads, self.head_dim).unbind(2)  # (B, T, H, d) each
        q, k = apply_rotary(q, *rope), apply_rotary(k, *rope) / math.sqrt(self.head_dim)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, T, d)
        if form == "recurrent":
            y, state = retention_recurrent(q, k, v, self.gamma, state)
        elif self.cfg.chunk_size and T > self.cfg.chunk_size:
            y, state = retention_chunkwise(q, k, v, self.gamma, self.cfg.chunk_size, state)
        else:
            y, state = retention_chunk(q, k, v, self.gamma, state)
        y = F.layer_norm(y.transpose(1, 2), (self.head_dim,))  # (B, T, H, d): a GroupNorm per head
        y = F.silu(self.gate(x)) * y.reshape(B, T, C)
        return self.out(y), state


class RetNetBlock(nn.Module):
    def __init__(self, cfg: RetNetConfig):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(cfg.dim), nn.LayerNorm(cfg.dim)
        self.retention = MultiScaleRetention(cfg)
        self.mlp = MLP(cfg.dim, cfg.hidden_dim, "gelu", bias=False)

    def forward(self, x, rope, cache, layer: int, form: str):
        recurrent = isinstance(cache, RecurrentState)
        y, state = self.retention(self.ln_1(x), rope, cache.get(layer) if recurrent else None, form)
        if recurrent:
            cache.set(layer, state, x.shape[1])
        x = x + y
        return x + self.mlp(self.ln_2(x))


class RetNet(nn.Module):
    """A RetNet language model speaking `layers.CausalLM`; decoding carries a `RecurrentState`.

    `form` picks the retention form for every call: "chunk" (parallel within the call, chunkwise
    beyond `chunk_size`) or "recurrent" (token by token); both give the same logits.
    """

    def __init__(self, cfg: RetNetConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.rotary = RotaryEmbedding(cfg.dim // cfg.n_heads, cfg.max_context)
        self.blocks = nn.ModuleList(RetNetBlock(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.dim)
        self.lm_head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        self.form = "chunk"
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = (
                    0.02 / math.sqrt(2 * cfg.n_layers)
                    if name.endswith(("out.weight", "proj.weight"))
                    else 0.02
                )
                nn.init.normal_(p, std=std)
        self.lm_head.weight = self.embed.weight

    vocab_size = property(lambda self: self.cfg.vocab_size)
    max_context = property(lambda self: self.cfg.max_context)
    cache_spec = None  # no KV cache: a constant-size state per layer

    def forward(self, input_ids, positions=None, kv_cache=None, logits_index=None, num_layers=None):
        """input_ids (B, T) -> logits (B, T, vocab); `kv_cache` a `RecurrentState` to continue from."""
        positions = resolve_positions(input_ids, positions, kv_cache, self.cfg.max_context)
        rope = self.rotary(positions)
        x = self.embed(input_ids)  # (B, T, C)
        blocks = self.blocks if num_layers is None else self.blocks[:num_layers]
        for layer, block in enumerate(blocks):
            x = block(x, rope, kv_cache, layer, self.form)
        if logits_index is not None:
            x = x[..., logits_index, :]
        return self.lm_head(self.ln_f(x))

    def new_cache(self, batch_size: int = 1, max_len: int | None = None) -> RecurrentState:
        return RecurrentState(
            self.cfg.n_layers, batch_size, min(max_len or self.max_context, self.max_context)
        )
