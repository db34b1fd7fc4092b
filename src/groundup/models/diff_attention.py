"""Differential attention (Ye et al. 2024, "Differential Transformer").

Each head computes two softmax attention maps from two halves of its query and key and subtracts
them, so attention that both maps give to irrelevant context ("attention noise") cancels:

    DiffAttn(X) = (softmax(Q1 K1^T / sqrt(d)) - lambda softmax(Q2 K2^T / sqrt(d))) V
    lambda      = exp(lq1 . lk1) - exp(lq2 . lk2) + lambda_init,   lambda_init = 0.8 - 0.6 exp(-0.3 (l - 1))

with Q1, Q2, K1, K2 of width d and V of width 2d per head (h heads, model width h * 2d), l the
1-based layer index and lq*, lk* learned vectors. Each head's output is RMS-normalized and scaled by
(1 - lambda_init) before the output projection.

Because the subtraction is linear in the two maps, each map is ordinary attention: the layer runs
both through the shared attention backend (`kv_cache.attend`) as 2h heads, so `NoCache` trains it
and a `ContiguousKVCache` decodes it. The backend wants keys and values of one width, so q and k are
zero-padded from d to 2d (the dot products do not change; the scale stays 1/sqrt(d)) and each value
head serves both maps: the cache spec is (2h heads, head size 2d).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from groundup.models.layers import RMSNorm, apply_rotary


def lambda_init(layer: int) -> float:
    """The paper's depth schedule, `layer` counted from 0: 0.2 for the first layer, towards 0.8."""
    return 0.8 - 0.6 * math.exp(-0.3 * layer)


class DiffAttention(nn.Module):
    """Differential multi-head attention: forward(x, kv_cache, layer, rope) -> (..., T, dim).

    `n_heads` differential heads of width 2 * head_dim each (head_dim = dim / (2 n_heads) by default);
    `rope`, if given, is (cos, sin) for width head_dim.
    """

    def __init__(self, dim: int, n_heads: int, layer: int = 0, *, bias: bool = False):
        super().__init__()
        if dim % (2 * n_heads):
            raise ValueError(f"n_heads: 2 * {n_heads} must divide dim {dim}")
        self.n_heads, self.head_dim = n_heads, dim // (2 * n_heads)
        self.q = nn.Linear(dim, dim, bias=bias)  # 2h query halves of width d
        self.k = nn.Linear(dim, dim, bias=bias)
        self.v = nn.Linear(dim, dim, bias=bias)  # h values of width 2d
        self.out = nn.Linear(dim, dim, bias=bias)
        self.lambda_init = lambda_init(layer)
        self.lambdas = nn.Parameter(0.1 * torch.randn(4, self.head_dim))  # lq1, lk1, lq2, lk2
        self.norm = RMSNorm(2 * self.head_dim)

    def lambda_(self) -> torch.Tensor:
        lq1, lk1, lq2, lk2 = self.lambdas
        return torch.exp((lq1 * lk1).sum()) - torch.exp((lq2 * lk2).sum()) + self.lambda_init

    def forward(self, x: torch.Tensor, kv_cache, layer: int, rope=None) -> torch.Tensor:
        lead, h, d = x.shape[:-1], self.n_heads, self.head_dim
        q = self.q(x).view(*lead, 2 * h, d)  # (..., T, 2h, d): heads 0..h-1 map 1, h..2h-1 map 2
        k = self.k(x).view(*lead, 2 * h, d)
        v = self.v(x).view(*lead, h, 2 * d)  # (..., T, h, 2d)
        if rope is not None:
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        q, k = F.pad(q, (0, d)), F.pad(k, (0, d))  # (..., T, 2h, 2d): zeros leave q . k unchanged
        v = torch.cat([v, v], dim=-2)  # (..., T, 2h, 2d): map 1 and map 2 read the same values
        both = kv_cache.attend(layer, q, k, v, scale=1.0 / math.sqrt(d))  # (..., T, 2h, 2d)
        y = both[..., :h, :] - self.lambda_() * both[..., h:, :]  # (..., T, h, 2d)
        y = self.norm(y) * (1 - self.lambda_init)
        return self.out(y.reshape(*lead, 2 * h * d))
