"""Two 4-bit codes per byte: INT4 weights take half the memory of INT8 only once they are packed.

Layout (the one llama.cpp's Q4 and most GPU kernels use for neighbouring values): along the last
dimension, element 2i goes to the low nibble and element 2i+1 to the high nibble of byte i.

    byte = (code[2i] & 0xF) | (code[2i+1] << 4)

Signed INT4 codes (-8..7) are stored in two's complement nibbles and sign-extended on unpacking.
"""

from __future__ import annotations

import torch


def pack_int4(q: torch.Tensor) -> torch.Tensor:
    """(..., n) codes in -8..7 (int8) or 0..15 (uint8) -> (..., n/2) uint8 bytes."""
    if q.dtype not in (torch.int8, torch.uint8):
        raise ValueError(f"q must be int8 (-8..7) or uint8 (0..15) codes, got dtype {q.dtype}")
    if q.shape[-1] % 2:
        raise ValueError(f"the last dimension must be even to pack two codes per byte, got {q.shape[-1]}")
    lo_ok, hi_ok = (-8, 7) if q.dtype == torch.int8 else (0, 15)
    if q.numel() and (int(q.min()) < lo_ok or int(q.max()) > hi_ok):
        raise ValueError(f"q must hold 4-bit codes in {lo_ok}..{hi_ok} for dtype {q.dtype}")
    nibbles = q.to(torch.int16) & 0xF  # two's complement low nibble for negatives
    return (nibbles[..., 0::2] | (nibbles[..., 1::2] << 4)).to(torch.uint8)


def unpack_int4(packed: torch.Tensor, signed: bool = True) -> torch.Tensor:
    """(..., n/2) uint8 -> (..., n) codes: int8 in -8..7 when `signed`, else uint8 in 0..15."""
    if packed.dtype != torch.uint8:
        raise ValueError(f"packed must be uint8, got dtype {packed.dtype}")
    b = packed.to(torch.int16)
    codes = torch.stack([b & 0xF, b >> 4], dim=-1).reshape(*packed.shape[:-1], packed.shape[-1] * 2)
    if signed:
        return torch.where(codes >= 8, codes - 16, codes).to(torch.int8)
    return codes.to(torch.uint8)
