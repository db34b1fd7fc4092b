"""A tiny Diffusion Transformer (DiT, Peebles & Xie, 2023, arXiv:2212.09748): the U-Net's job done
by a transformer over image patches.

The noisy image is cut into p×p patches, each patch a token (linear embedding plus a fixed 2-D
sinusoidal position); non-causal transformer blocks (the shared `Attention` and `MLP` of
`models/layers.py`) mix them; a linear layer turns each token back into its patch of ε. The step and
class enter through adaptive LayerNorm-Zero: from the conditioning vector c every block computes a
shift, scale and gate for its attention and MLP branches,

    x = x + gate_a · Attn(LN(x)·(1 + scale_a) + shift_a),    x = x + gate_m · MLP(LN(x)·(1 + scale_m) + shift_m)

with the gates' projection initialized at zero, so every block starts as the identity. The forward
signature is the U-Net's: ε_θ(x_t, t, y), with label `num_classes` the null label of
classifier-free guidance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from groundup.models.layers import MLP, Attention, NoCache, sinusoidal_positions


@dataclass
class DiTConfig:
    image_size: int = 8
    channels: int = 1
    patch: int = 2
    dim: int = 64
    n_layers: int = 4
    n_heads: int = 4
    num_classes: int = 10
    num_steps: int = 1000

    def __post_init__(self):
        if self.image_size % self.patch:
            raise ValueError(f"patch ({self.patch}) must divide image_size ({self.image_size})")
        if self.dim % self.n_heads or self.dim % 4:
            raise ValueError(f"dim must be divisible by n_heads and by 4, got {self.dim}")

    @property
    def null_label(self) -> int:
        return self.num_classes

    @property
    def grid(self) -> int:
        return self.image_size // self.patch


def positions_2d(grid: int, dim: int) -> torch.Tensor:
    """(grid², dim): half the channels encode the row, half the column (sinusoidal)."""
    table = sinusoidal_positions(grid, dim // 2)  # (grid, dim/2)
    rows = table[:, None].expand(grid, grid, dim // 2)
    cols = table[None, :].expand(grid, grid, dim // 2)
    return torch.cat([rows, cols], dim=-1).reshape(grid * grid, dim)


class DiTBlock(nn.Module):
    def __init__(self, dim: int, n_heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False)
        self.attn = Attention(dim, n_heads, bias=True)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False)
        self.mlp = MLP(dim, 4 * dim)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))  # c -> shift, scale, gate (attn, MLP)
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:  # x (B, N, C), c (B, C)
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = self.ada(c)[:, None].chunk(6, dim=-1)
        h = self.norm1(x) * (1 + scale_a) + shift_a
        x = x + gate_a * self.attn(h, NoCache(causal=False), 0)
        h = self.norm2(x) * (1 + scale_m) + shift_m
        return x + gate_m * self.mlp(h)


class DiT(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.cfg = cfg
        d, p = cfg.dim, cfg.patch
        self.patch_in = nn.Linear(cfg.channels * p * p, d)
        self.register_buffer("pos", positions_2d(cfg.grid, d), persistent=False)
        self.register_buffer("time_table", sinusoidal_positions(cfg.num_steps, d), persistent=False)
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.label_emb = nn.Embedding(cfg.num_classes + 1, d)
        self.blocks = nn.ModuleList(DiTBlock(d, cfg.n_heads) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(d, elementwise_affine=False)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))  # final shift and scale
        self.patch_out = nn.Linear(d, cfg.channels * p * p)
        for layer in (self.ada[1], self.patch_out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) -> (B, N, C·p·p), patches in row-major order."""
        b, c, p, g = x.shape[0], self.cfg.channels, self.cfg.patch, self.cfg.grid
        x = x.reshape(b, c, g, p, g, p).permute(0, 2, 4, 1, 3, 5)  # (B, g, g, C, p, p)
        return x.reshape(b, g * g, c * p * p)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, C·p·p) -> (B, C, S, S), the inverse of `patchify`."""
        b, c, p, g = x.shape[0], self.cfg.channels, self.cfg.patch, self.cfg.grid
        x = x.reshape(b, g, g, c, p, p).permute(0, 3, 1, 4, 2, 5)  # (B, C, g, p, g, p)
        return x.reshape(b, c, g * p, g * p)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """x (B, C, S, S), t (B,) int64 steps, labels (B,) in 0..num_classes -> ε (B, C, S, S)."""
        c = self.time_mlp(self.time_table[t]) + self.label_emb(labels)  # (B, d)
        h = self.patch_in(self.patchify(x)) + self.pos  # (B, N, d)
        for block in self.blocks:
            h = block(h, c)
        shift, scale = self.ada(c)[:, None].chunk(2, dim=-1)
        return self.unpatchify(self.patch_out(self.norm(h) * (1 + scale) + shift))
