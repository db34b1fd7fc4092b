"""How much a quantizer hurt: mean squared error, signal-to-quantization-noise ratio, worst-case error.

MSE  = mean((x - x̂)²)
SQNR = 10 · log10( Σx² / Σ(x - x̂)² )  dB      (each extra bit of a uniform quantizer adds ~6.02 dB)
max  = max |x - x̂|
"""

from __future__ import annotations

import math

import torch


def _pair(x: torch.Tensor, x_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if x.shape != x_hat.shape:
        raise ValueError(
            f"x and x_hat must have the same shape, got {tuple(x.shape)} and {tuple(x_hat.shape)}"
        )
    return x.double(), x_hat.double()


def mse(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    x, x_hat = _pair(x, x_hat)
    return float(((x - x_hat) ** 2).mean())


def sqnr_db(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """Signal power over noise power in decibels; +inf when the reconstruction is exact."""
    x, x_hat = _pair(x, x_hat)
    noise = float(((x - x_hat) ** 2).sum())
    signal = float((x**2).sum())
    return math.inf if noise == 0 else 10 * math.log10(signal / noise)


def max_error(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    x, x_hat = _pair(x, x_hat)
    return float((x - x_hat).abs().max())
