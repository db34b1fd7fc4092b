"""FP8 emulation: round float32 values to the nearest E4M3 or E5M2 number (ties to even), kept in float32.

An FP8 number is sign · 1.m · 2^e (normal) or sign · 0.m · 2^emin (subnormal). In a binade [2^e, 2^(e+1))
the representable values are spaced by the quantum 2^(e - mantissa_bits); below the smallest normal
the spacing stays at 2^(emin - mantissa_bits). So rounding is

    quantum = 2^(max(floor(log2|x|), emin) - mantissa_bits)
    y = round_half_even(x / quantum) · quantum           (division by a power of two is exact)

          exponent bits  mantissa bits  bias  max normal  smallest subnormal  overflow (torch cast)
    E4M3       4              3          7       448            2^-9           ±448 (the "fn" variant has no inf)
    E5M2       5              2         15     57344            2^-16          ±inf

With `saturate=False` the overflow column is what happens, reproducing torch's
`.to(torch.float8_e4m3fn / float8_e5m2)` casts bit for bit; `saturate=True` clamps E5M2 to ±57344 too,
which is what quantization recipes use.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from groundup.quant.checks import check_finite


@dataclass(frozen=True)
class FP8Format:
    name: str
    exponent_bits: int
    mantissa_bits: int
    bias: int
    max_value: float
    has_inf: bool

    @property
    def min_normal_exponent(self) -> int:
        return 1 - self.bias


E4M3 = FP8Format("e4m3", exponent_bits=4, mantissa_bits=3, bias=7, max_value=448.0, has_inf=False)
E5M2 = FP8Format("e5m2", exponent_bits=5, mantissa_bits=2, bias=15, max_value=57344.0, has_inf=True)
FORMATS = {"e4m3": E4M3, "e5m2": E5M2}


def fp8_format(fmt: str | FP8Format) -> FP8Format:
    if isinstance(fmt, FP8Format):
        return fmt
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {tuple(FORMATS)}, got {fmt!r}")
    return FORMATS[fmt]


def round_to_fp8(x: torch.Tensor, fmt: str | FP8Format = "e4m3", saturate: bool = False) -> torch.Tensor:
    """x rounded to the nearest value of the FP8 format (ties to even), returned as float32."""
    f = fp8_format(fmt)
    check_finite(x)
    x = x.float()
    _, e = torch.frexp(x)  # x = m · 2^e with 0.5 <= |m| < 1, so floor(log2|x|) = e - 1
    exponent = torch.clamp(e - 1, min=f.min_normal_exponent)
    quantum = torch.ldexp(torch.ones_like(x), exponent - f.mantissa_bits)
    y = torch.round(x / quantum) * quantum
    too_big = y.abs() > f.max_value
    if saturate:
        return torch.where(too_big, torch.sign(x) * f.max_value, y)
    overflow = torch.sign(x) * (torch.inf if f.has_inf else f.max_value)
    return torch.where(too_big, overflow, y)


def quantize_fp8(
    x: torch.Tensor, fmt: str | FP8Format = "e4m3", axis: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled FP8: s = amax / max_value (per tensor, or per index of `axis`), codes = fp8(x / s).

    Returns (values rounded to FP8, stored as float32; scale). Dequantize with `values * scale`.
    """
    f = fp8_format(fmt)
    check_finite(x)
    if axis is None:
        amax = x.abs().amax()
    else:
        dims = tuple(d for d in range(x.dim()) if d != axis % x.dim())
        amax = x.abs().amax(dim=dims, keepdim=True)
    scale = (amax.float() / f.max_value).clamp(min=torch.finfo(torch.float32).tiny)
    return round_to_fp8(x / scale, f, saturate=True), scale
