"""A small U-Net noise predictor ε_θ(x_t, t, y) for diffusion on small grayscale images.

Two resolutions down and back up with skip connections; every residual block adds a projection of
the step and class embedding, so one network denoises at every noise level and for every class.
The class table has one extra row, the "null" label used by classifier-free guidance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from groundup.models.layers import sinusoidal_positions


@dataclass
class UNetConfig:
    image_size: int = 8  # divisible by 4
    channels: int = 1
    width: int = 32
    num_classes: int = 10
    num_steps: int = 1000  # diffusion steps the time table covers

    def __post_init__(self):
        if self.image_size % 4:
            raise ValueError(f"image_size must be divisible by 4, got {self.image_size}")
        if self.width % 8:
            raise ValueError(f"width must be a multiple of 8 (GroupNorm groups), got {self.width}")

    @property
    def null_label(self) -> int:
        return self.num_classes


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb_dim: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(8, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, emb):  # x (B, c_in, H, W), emb (B, E)
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]  # the step and class, broadcast over pixels
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h  # (B, c_out, H, W)


class UNet(nn.Module):
    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.cfg = cfg
        w, e = cfg.width, 4 * cfg.width
        self.register_buffer("time_table", sinusoidal_positions(cfg.num_steps, w), persistent=False)
        self.time_mlp = nn.Sequential(nn.Linear(w, e), nn.SiLU(), nn.Linear(e, e))
        self.label_emb = nn.Embedding(cfg.num_classes + 1, e)
        self.inp = nn.Conv2d(cfg.channels, w, 3, padding=1)
        self.down1, self.down2 = ResBlock(w, w, e), ResBlock(w, 2 * w, e)
        self.mid = ResBlock(2 * w, 2 * w, e)
        self.up2, self.up1 = ResBlock(4 * w, w, e), ResBlock(2 * w, w, e)
        self.out = nn.Sequential(nn.GroupNorm(8, w), nn.SiLU(), nn.Conv2d(w, cfg.channels, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """x (B, C, S, S), t (B,) int64 steps, labels (B,) in 0..num_classes (num_classes = null) -> ε (B, C, S, S)."""
        emb = self.time_mlp(self.time_table[t]) + self.label_emb(labels)  # (B, E)
        h1 = self.down1(self.inp(x), emb)  # (B, w, S, S)
        h2 = self.down2(F.avg_pool2d(h1, 2), emb)  # (B, 2w, S/2, S/2)
        h = self.mid(F.avg_pool2d(h2, 2), emb)  # (B, 2w, S/4, S/4)
        h = self.up2(torch.cat([F.interpolate(h, scale_factor=2), h2], 1), emb)  # (B, w, S/2, S/2)
        h = self.up1(torch.cat([F.interpolate(h, scale_factor=2), h1], 1), emb)  # (B, w, S, S)
        return self.out(h)
