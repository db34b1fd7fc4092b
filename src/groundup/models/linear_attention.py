"""Linear attention (Katharopoulos et al. 2020, "Transformers are RNNs") and a GPT built on it.

Softmax attention weighs value j for query i by exp(q_i . k_j), which does not factor. Replacing it
with a kernel phi(q_i) . phi(k_j), phi(x) = elu(x) + 1 > 0, lets the sum be regrouped:

    o_i = sum_{j<=i} (phi(q_i) . phi(k_j)) v_j / sum_{j<=i} phi(q_i) . phi(k_j)
        = phi(q_i)^T S_i / phi(q_i)^T z_i,     S_i = sum_{j<=i} phi(k_j) v_j^T  (d x d),  z_i = sum_{j<=i} phi(k_j)

Parallel form (training): A = phi(Q) phi(K)^T masked to j <= i, O = (A V) / (A 1): O(T^2 d) like
softmax attention. Recurrent form (decoding): S and z are a constant-size state, updated by one outer
product per token: O(d^2) per token whatever the length. `linear_attention` does both at once for a
block of T tokens that follows a state (S, z): within the block the parallel form, the past through
the state; `linear_attention_recurrent` is the token-by-token loop the tests compare it with.

`LinearAttention` has the projections and call signature of `layers.Attention`, so
`LinearAttentionGPT` is GPT (`gpt.py`) with every attention layer replaced, decoding through a
`RecurrentState` instead of a KV cache.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from groundup.models.gpt import GPT, GPTConfig
from groundup.models.recurrent_state import RecurrentState
from groundup.models.transformer import init_weights

EPS = 1e-6


def feature_map(x: torch.Tensor) -> torch.Tensor:
    """phi(x) = elu(x) + 1: positive, so every normalizer is positive."""
    return F.elu(x) + 1


def linear_attention(q, k, v, state=None) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """Causal linear attention over T new tokens that follow `state` = (S, z) (None: nothing before).

    q, k (B, H, T, Dk) already feature-mapped, v (B, H, T, Dv) -> (out (B, H, T, Dv), (S, z) after the
    block), S (B, H, Dk, Dv), z (B, H, Dk).
    """
    a = (q @ k.transpose(-1, -2)).tril()  # (B, H, T, T): phi(q_i) . phi(k_j) for j <= i
    num, den = a @ v, a.sum(-1)  # (B, H, T, Dv), (B, H, T)
    if state is not None:
        S, z = state
        num, den = num + q @ S, den + (q * z[..., None, :]).sum(-1)
    else:
        S = q.new_zeros(*q.shape[:-2], q.shape[-1], v.shape[-1])
        z = q.new_zeros(*q.shape[:-2], q.shape[-1])
    out = num / (den[..., None] + EPS)
    return out, (S + k.transpose(-1, -2) @ v, z + k.sum(-2))


def linear_attention_recurrent(q, k, v) -> torch.Tensor:
    """The same, one token at a time: S += phi(k_t) v_t^T, z += phi(k_t), o_t = phi(q_t) S / phi(q_t) z."""
    S = q.new_zeros(*q.shape[:-2], q.shape[-1], v.shape[-1])  # (B, H, Dk, Dv)
    z = q.new_zeros(*q.shape[:-2], q.shape[-1])  # (B, H, Dk)
    outs = []
    for t in range(q.shape[-2]):
        qt, kt, vt = q[..., t, :], k[..., t, :], v[..., t, :]  # (B, H, D)
        S = S + kt[..., :, None] * vt[..., None, :]
        z = z + kt
        num = (qt[..., None, :] @ S).squeeze(-2)  # (B, H, Dv)
        outs.append(num / ((qt * z).sum(-1, keepdim=True) + EPS))
    return torch.stack(outs, dim=-2)  # (B, H, T, Dv)


class LinearAttention(nn.Module):
    """Multi-head causal linear attention with the projections of `layers.Attention`.

    forward(x, kv_cache, layer, rope=None): with a `RecurrentState` the layer continues from (and
    updates) its state; with anything else (`NoCache`, None) it attends over these T tokens only.
    """

    def __init__(self, dim: int, n_heads: int, *, bias: bool = False, dropout: float = 0.0):
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"n_heads: {n_heads} must divide dim {dim}")
        self.n_heads, self.head_dim = n_heads, dim // n_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.out = nn.Linear(dim, dim, bias=bias)
        self.resid_dropout = nn.Dropout(dropout) if dropout else nn.Identity()

    def forward(self, x: torch.Tensor, kv_cache=None, layer: int = 0, rope=None) -> torch.Tensor:
        """x (B, T, C) -> (B, T, C)."""
        B, T, C = x.shape
        heads = lambda t: t.view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # noqa: E731
        q, k, v = (heads(t) for t in self.qkv(x).split(C, dim=-1))  # (B, H, T, D) each
        recurrent = isinstance(kv_cache, RecurrentState)
        state = kv_cache.get(layer) if recurrent else None
        y, state = linear_attention(feature_map(q), feature_map(k), v, state)
        if recurrent:
            kv_cache.set(layer, state, T)
        return self.resid_dropout(self.out(y.transpose(1, 2).reshape(B, T, C)))


class LinearAttentionGPT(GPT):
    """GPT whose attention layers are `LinearAttention` (same embeddings, MLPs, norms and head)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__(cfg)
        for block in self.blocks:
            block.attn = LinearAttention(cfg.n_embd, cfg.n_head, bias=cfg.bias, dropout=cfg.dropout)
        init_weights(self, cfg.n_layer)

    cache_spec = None  # no KV cache: the state has a constant size (see `RecurrentState`)

    def new_cache(self, batch_size: int = 1, max_len: int | None = None) -> RecurrentState:
        return RecurrentState(
            self.cfg.n_layer, batch_size, min(max_len or self.max_context, self.max_context)
        )
