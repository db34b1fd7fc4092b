"""Multi-head attention (Vaswani et al. 2017) with PyTorch's parameter layout.

softmax(Q K^T / sqrt(d_head) + mask) V per head, heads concatenated and projected. Parameters:
`in_proj_weight` (3E, E) and `in_proj_bias` (3E,) stacking the Q, K, V projections, and `out_proj`
(a Linear), as in torch.nn.MultiheadAttention; inputs are batch-first (B, T, E).
"""

from __future__ import annotations

import math

import numpy as np

from groundup.grad.functional import linear, softmax
from groundup.grad.nn import init
from groundup.grad.nn.layers import Linear
from groundup.grad.nn.module import Module, Parameter
from groundup.grad.ops import where
from groundup.grad.tensor import Tensor


class MultiHeadAttention(Module):
    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True, dtype=np.float32, rng=None):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide embed_dim={embed_dim}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.in_proj_weight = init.xavier_uniform_(
            Parameter(np.zeros((3 * embed_dim, embed_dim), dtype)), rng=rng
        )
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dtype)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype, rng=rng)
        if bias:
            self.out_proj.bias.data[:] = 0

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask=None,
        causal: bool = False,
    ) -> tuple[Tensor, Tensor]:
        """query (B, T, E), key/value (B, S, E) -> (output (B, T, E), weights averaged over heads (B, T, S)).

        key_padding_mask (B, S): True marks padding keys to ignore. causal: position t sees keys <= t.
        """
        b, t, e = query.shape
        s = key.shape[1]
        if e != self.embed_dim or key.shape[-1] != e or value.shape != key.shape:
            raise ValueError(
                f"MultiHeadAttention({e}): query {query.shape}, key {key.shape}, value {value.shape} do not fit"
            )
        h, d = self.num_heads, e // self.num_heads
        w = self.in_proj_weight
        bq, bk, bv = (
            (None,) * 3
            if self.in_proj_bias is None
            else (self.in_proj_bias[i * e : (i + 1) * e] for i in range(3))
        )
        q = linear(query, w[:e], bq).reshape(b, t, h, d).transpose(1, 2)  # (B, h, T, d)
        k = linear(key, w[e : 2 * e], bk).reshape(b, s, h, d).transpose(1, 2)  # (B, h, S, d)
        v = linear(value, w[2 * e :], bv).reshape(b, s, h, d).transpose(1, 2)  # (B, h, S, d)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d))  # (B, h, T, S)
        blocked = np.zeros((b, 1, t, s), bool)
        if causal:
            blocked |= np.triu(np.ones((t, s), bool), k=1)
        if key_padding_mask is not None:
            blocked |= np.asarray(key_padding_mask, bool).reshape(b, 1, 1, s)
        if blocked.any():
            scores = where(np.broadcast_to(blocked, scores.shape), -np.inf, scores)
        attn = softmax(scores, axis=-1)  # (B, h, T, S)
        out = (attn @ v).transpose(1, 2).reshape(b, t, e)  # (B, T, E)
        return self.out_proj(out), attn.mean(axis=1)
