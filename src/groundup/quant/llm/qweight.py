"""The weight-only quantized Linear shared by RTN, GPTQ and AWQ: b-bit codes, a scale and a zero-point
per (output row, input group), and the module that computes with them.

    Ŵ[o, j] = (codes[o, j] - zero[o, g(j)]) · scale[o, g(j)]          g(j) = g_idx[j]

`g_idx` maps every input column to its group. Without act-order it is simply j // group_size (per-channel
quantization is the single group covering all columns); GPTQ with act-order quantizes columns in a
permuted order and then records which group each column ended up in.

Codes are unsigned ([0, 2^b - 1]) with an integer zero-point, the asymmetric min/max scheme of the GPTQ
and AWQ papers (the range always contains 0, as in `groundup.quant.affine`). Scales are rounded to
float16 when they are chosen, so the float16 copy a checkpoint stores is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from groundup.quant.affine import QScheme, calc_qparams, dequantize_affine, quantize_affine
from groundup.quant.llm.methods import GROUP_SIZES
from groundup.quant.packing import PACKABLE_BITS, packed_size


def check_weight_spec(
    bits: int,
    group_size: int | None,
    in_features: int | None = None,
    *,
    method: str = "rtn",
    allowed_bits: tuple[int, ...] = (3, 4, 8),
) -> None:
    """Bits and group sizes a weight-only method supports; ValueError naming the limit otherwise."""
    if bits not in allowed_bits or bits not in PACKABLE_BITS:
        raise ValueError(f"{method}: bits must be one of {allowed_bits}, got {bits!r}")
    if group_size not in GROUP_SIZES:
        raise ValueError(
            f"{method}: group_size must be one of {GROUP_SIZES} (None = per-channel), got {group_size!r}"
        )
    if group_size and in_features is not None and in_features % group_size:
        raise ValueError(
            f"{method}: group_size {group_size} does not divide in_features {in_features}; pick a divisor of it"
        )


def group_params(w: torch.Tensor, bits: int, *, sym: bool = False, clip: torch.Tensor | float = 1.0):
    """Scale and zero-point for each row of `w` (out, k) -> (out, 1) float32 and (out, 1) int32.

    `clip` (scalar or (out, 1)) shrinks the min/max range before the scale is chosen (AWQ's clipping
    search). The scale is rounded to float16 so that storing it as float16 loses nothing.
    """
    scheme = QScheme(bits=bits, symmetric=sym, signed=False, granularity="channel", axis=0)
    lo = w.detach().float().amin(dim=1, keepdim=True) * clip
    hi = w.detach().float().amax(dim=1, keepdim=True) * clip
    scale, zero = calc_qparams(lo, hi, scheme)
    return scale.half().float(), zero


def quantize_codes(w: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, bits: int) -> torch.Tensor:
    """Codes in [0, 2^bits) for `w` with broadcastable `scale`/`zero` (uint8)."""
    return quantize_affine(w, scale, zero, 0, 2**bits - 1)


def fake_quantize(w: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, bits: int) -> torch.Tensor:
    """Quantize then dequantize, in `w`'s dtype: the value the quantized model will actually use."""
    return dequantize_affine(quantize_codes(w, scale, zero, bits), scale, zero).to(w.dtype)


@dataclass
class QuantizedWeight:
    """Codes (out, in) uint8, scale (out, n_groups) float32, zero (out, n_groups) int32, g_idx (in,) int64."""

    codes: torch.Tensor
    scale: torch.Tensor
    zero: torch.Tensor
    g_idx: torch.Tensor
    bits: int
    group_size: int | None

    def dequantize(self) -> torch.Tensor:
        """Ŵ (out, in) float32."""
        scale = self.scale[:, self.g_idx]  # (out, in)
        zero = self.zero[:, self.g_idx]
        return (self.codes.to(torch.int32) - zero).float() * scale

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.codes.shape)

    def nbytes(self) -> int:
        """Stored size: packed codes, float16 scales, one byte per zero-point (g_idx only with act-order)."""
        codes = packed_size(self.codes.numel(), self.bits)
        g_idx = 0 if self.has_trivial_g_idx() else self.g_idx.numel() * 4
        return codes + self.scale.numel() * 2 + self.zero.numel() + g_idx

    def has_trivial_g_idx(self) -> bool:
        return torch.equal(self.g_idx, default_g_idx(self.codes.shape[1], self.group_size))


def default_g_idx(in_features: int, group_size: int | None) -> torch.Tensor:
    """Group of each input column in natural order (the last group may be shorter)."""
    if group_size is None:
        return torch.zeros(in_features, dtype=torch.int64)
    return torch.arange(in_features, dtype=torch.int64) // group_size


class WeightOnlyLinear(nn.Module):
    """A Linear whose weight is stored as b-bit codes and dequantized to float32 at every forward.

    Activations stay float: this saves memory and bandwidth, not arithmetic (a fused kernel would
    dequantize tile by tile; see the quantized-kernels module).
    """

    def __init__(self, qweight: QuantizedWeight, bias: torch.Tensor | None = None):
        super().__init__()
        self.bits, self.group_size = qweight.bits, qweight.group_size
        self.out_features, self.in_features = qweight.shape
        self.register_buffer("codes", qweight.codes)
        self.register_buffer("scale", qweight.scale)
        self.register_buffer("zero", qweight.zero)
        self.register_buffer("g_idx", qweight.g_idx)
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(), requires_grad=False)

    @property
    def qweight(self) -> QuantizedWeight:
        return QuantizedWeight(self.codes, self.scale, self.zero, self.g_idx, self.bits, self.group_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.qweight.dequantize().to(x.dtype), self.bias)

    def nbytes(self) -> int:
        return self.qweight.nbytes()

    def extra_repr(self) -> str:
        return (
            f"in={self.in_features}, out={self.out_features}, bits={self.bits}, group_size={self.group_size}"
        )
