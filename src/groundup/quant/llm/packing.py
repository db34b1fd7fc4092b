"""Bit-packing of integer codes: b-bit codes (b in 2, 3, 4, 8) stored densely in a byte stream.

Codes are unsigned, in [0, 2^b - 1]. Every run of 8 codes becomes exactly b bytes: the 8·b bits of the
run are laid out little-endian (code 0 in the lowest bits), so INT4 gives two codes per byte (low nibble
first, the GGUF/AutoGPTQ habit) and INT3 packs 8 codes into 3 bytes with no wasted bit. The code count
is padded up to a multiple of 8 with zeros; `unpack_bits` takes the true count back.

    >>> packed = pack_bits(torch.tensor([1, 2, 3, 4, 5, 6, 7, 0], dtype=torch.uint8), 3)
    >>> packed.numel(), unpack_bits(packed, 3, 8).tolist()
    (3, [1, 2, 3, 4, 5, 6, 7, 0])
"""

from __future__ import annotations

import torch

PACKABLE_BITS = (2, 3, 4, 8)


def _check(bits: int) -> None:
    if bits not in PACKABLE_BITS:
        raise ValueError(f"bits must be one of {PACKABLE_BITS} to be packed, got {bits!r}")


def packed_size(count: int, bits: int) -> int:
    """Bytes holding `count` codes: one each at 8 bits, else `bits` bytes per run of 8 (padded)."""
    return count if bits == 8 else (count + 7) // 8 * bits


def pack_bits(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Flatten `codes` (any shape, values in [0, 2^bits)) into a uint8 tensor of ceil(n/8)·bits bytes."""
    _check(bits)
    flat = codes.reshape(-1).to(torch.int64)
    if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= 2**bits):
        raise ValueError(f"codes must lie in [0, {2**bits - 1}] for {bits}-bit packing")
    if bits == 8:  # one code per byte: nothing to interleave
        return flat.to(torch.uint8)
    pad = (-flat.numel()) % 8
    runs = torch.cat([flat, flat.new_zeros(pad)]).reshape(-1, 8)  # (n/8, 8)
    shifts = torch.arange(8, dtype=torch.int64) * bits  # code k of a run starts at bit k·b
    words = (runs << shifts).sum(dim=1)  # (n/8,) one 8·b-bit integer per run (≤ 32 bits)
    byte_shifts = torch.arange(bits, dtype=torch.int64) * 8
    return ((words[:, None] >> byte_shifts) & 0xFF).to(torch.uint8).reshape(-1)  # (n/8 · b,)


def unpack_bits(packed: torch.Tensor, bits: int, count: int) -> torch.Tensor:
    """The first `count` codes of a `pack_bits` stream, as a flat uint8 tensor."""
    _check(bits)
    if packed.dtype != torch.uint8 or packed.dim() != 1:
        raise ValueError(
            f"packed must be a 1-d uint8 tensor, got {packed.dtype} with shape {tuple(packed.shape)}"
        )
    needed = packed_size(count, bits)
    if packed.numel() != needed:
        raise ValueError(f"{count} codes of {bits} bits need {needed} packed bytes, got {packed.numel()}")
    if bits == 8:
        return packed[:count].clone()
    chunks = packed.to(torch.int64).reshape(-1, bits)  # (n/8, b) bytes of one run
    words = (chunks << (torch.arange(bits, dtype=torch.int64) * 8)).sum(dim=1)  # (n/8,)
    shifts = torch.arange(8, dtype=torch.int64) * bits
    codes = (words[:, None] >> shifts) & (2**bits - 1)  # (n/8, 8)
    return codes.reshape(-1)[:count].to(torch.uint8)
