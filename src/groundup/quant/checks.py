"""Argument checks shared by every quantizer: bit widths, group sizes and finite inputs.

Each check raises ValueError naming the parameter, the allowed values and what was found, so a bad
call fails at the boundary instead of producing silently wrong integers.
"""

from __future__ import annotations

import torch

MIN_BITS, MAX_BITS = 2, 8


def check_bits(bits: int) -> int:
    """Integer bit widths 2..8 (INT2 to INT8) are the ones these quantizers store in one byte."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"bits must be an integer in {MIN_BITS}..{MAX_BITS}, got {bits!r}")
    return bits


def check_finite(x: torch.Tensor, name: str = "x") -> torch.Tensor:
    """NaN or inf would poison a min/max range and every scale derived from it."""
    if not torch.is_tensor(x):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ValueError(
            f"{name} contains NaN or inf; only finite values can be quantized (clean or clamp it)"
        )
    return x


def check_group_size(group_size: int, dim: int) -> int:
    """Groups tile the quantized dimension exactly; a remainder would leave values without a scale."""
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size <= 0:
        raise ValueError(f"group_size must be a positive integer dividing {dim}, got {group_size!r}")
    if dim % group_size:
        divisors = [d for d in range(1, min(dim, 4096) + 1) if dim % d == 0]
        raise ValueError(
            f"group_size must divide the grouped dimension {dim}, got {group_size}; "
            f"allowed values include {divisors[-6:]}"
        )
    return group_size
