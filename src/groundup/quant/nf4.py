"""4-bit NormalFloat (NF4) and double quantization, after QLoRA (Dettmers et al., 2023, arXiv:2305.14314).

Pretrained weights are roughly normal, so NF4 spends its 16 codes on equal-probability slices of N(0, 1)
instead of an even grid. The levels are quantiles of the normal distribution, made asymmetric so that
0 is exact: 8 positive levels from quantiles of [0.5, δ] and 7 negative ones from [δ, 0.5], then scaled
into [-1, 1]:

    δ = (1 - 1/(2·15) + 1 - 1/(2·16)) / 2 ≈ 0.9677            (paper's offset, between the 15- and 16-level ends)
    positive = Φ⁻¹(linspace(δ, 0.5, 9)[:-1]),  negative = -Φ⁻¹(linspace(δ, 0.5, 8)[:-1])
    levels   = sort(positive ∪ {0} ∪ negative) / max

A weight block of `block_size` values (64 in QLoRA) is divided by its absmax and each value snaps to the
nearest level. Double quantization then quantizes those float32 absmax constants themselves: subtract their
mean and store them as 8-bit codes in blocks of 256 (we use symmetric INT8 with a float32 scale per block,
where the paper uses an 8-bit float; the memory saving is the same, 32 -> 8 bits per constant).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from groundup.quant.checks import check_finite, check_group_size


def nf4_levels(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The 16 NF4 levels in increasing order, from -1.0 to 1.0 with an exact 0."""
    delta = (1 - 1 / (2 * 15) + 1 - 1 / (2 * 16)) / 2
    positive = torch.special.ndtri(torch.linspace(delta, 0.5, 9, dtype=torch.float64)[:-1])
    negative = -torch.special.ndtri(torch.linspace(delta, 0.5, 8, dtype=torch.float64)[:-1])
    levels = torch.cat([positive, torch.zeros(1, dtype=torch.float64), negative]).sort().values
    return (levels / levels.abs().max()).to(dtype)


def nearest_level(x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Index (uint8) of the closest level for each value; ties go to the lower level."""
    midpoints = (levels[1:] + levels[:-1]) / 2  # (L-1,) decision boundaries
    return torch.bucketize(x.contiguous(), midpoints.to(x.dtype), right=False).to(torch.uint8)


@dataclass
class NF4Tensor:
    """NF4 codes (uint8 in 0..15, one per value) and the per-block absmax, plain or double-quantized."""

    codes: torch.Tensor
    absmax: torch.Tensor | None
    shape: torch.Size
    block_size: int
    double: DoubleQuant | None = None

    def dequantize(self) -> torch.Tensor:
        return dequantize_nf4(self)

    def nbytes(self) -> int:
        """Packed codes (4 bits each) plus the block constants (float32, or 8-bit + second-level scales)."""
        constants = self.double.nbytes() if self.double is not None else self.absmax.numel() * 4
        return (self.codes.numel() + 1) // 2 + constants


@dataclass
class DoubleQuant:
    """Block constants c ≈ q8 · scale2 + mean, with int8 codes and one float32 scale2 per `block_size`."""

    codes: torch.Tensor
    scale: torch.Tensor
    mean: torch.Tensor
    block_size: int
    count: int

    def dequantize(self) -> torch.Tensor:
        values = self.codes.float().reshape(-1, self.block_size) * self.scale[:, None]
        return values.reshape(-1)[: self.count] + self.mean

    def nbytes(self) -> int:
        return self.codes.numel() + self.scale.numel() * 4 + 4


def double_quantize(constants: torch.Tensor, block_size: int = 256) -> DoubleQuant:
    """Quantize float32 block constants to int8 in blocks of `block_size` after removing their mean."""
    flat = constants.float().reshape(-1)
    mean = flat.mean()
    centred = flat - mean
    pad = (-centred.numel()) % block_size
    blocks = torch.nn.functional.pad(centred, (0, pad)).reshape(-1, block_size)  # (nb, block)
    scale = (blocks.abs().amax(dim=1) / 127).clamp(min=torch.finfo(torch.float32).tiny)
    codes = torch.round(blocks / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return DoubleQuant(codes.reshape(-1), scale, mean, block_size, flat.numel())


def quantize_nf4(
    x: torch.Tensor, block_size: int = 64, double_quant: bool = False, dq_block_size: int = 256
) -> NF4Tensor:
    """Blockwise NF4 of the flattened tensor: absmax per `block_size` values, nearest of the 16 levels."""
    check_finite(x)
    check_group_size(block_size, x.numel())
    blocks = x.float().reshape(-1, block_size)  # (n_blocks, block)
    absmax = blocks.abs().amax(dim=1).clamp(min=torch.finfo(torch.float32).tiny)
    codes = nearest_level(blocks / absmax[:, None], nf4_levels()).reshape(-1)
    if double_quant:
        return NF4Tensor(codes, None, x.shape, block_size, double_quantize(absmax, dq_block_size))
    return NF4Tensor(codes, absmax, x.shape, block_size)


def dequantize_nf4(t: NF4Tensor) -> torch.Tensor:
    """levels[code] · absmax per block, back in the original shape (float32)."""
    absmax = t.double.dequantize() if t.double is not None else t.absmax
    values = nf4_levels()[t.codes.long()].reshape(-1, t.block_size) * absmax[:, None]
    return values.reshape(t.shape)
