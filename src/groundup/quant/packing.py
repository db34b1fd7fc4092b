"""Bit-packing of integer codes: b-bit codes (b in 2, 3, 4, 8) stored densely in bytes.

One layout for every width: the bits of consecutive codes are laid out little-endian, code 0 in the
lowest bits. At 4 bits that is two codes per byte, element 2i in the low nibble and 2i+1 in the
high nibble (the layout of llama.cpp's Q4, AutoGPTQ and most GPU kernels):

    byte = (code[2i] & 0xF) | (code[2i+1] << 4)

and INT3 packs a run of 8 codes into 3 bytes with no wasted bit.

Two views of that one layout:

    pack_bits / unpack_bits    unsigned codes of any shape -> a flat byte stream, padded to whole runs
                               of 8 codes (`packed_size` bytes); what quantized checkpoints store
    pack_int4 / unpack_int4    INT4 codes packed along the last dimension, shape (..., n) -> (..., n/2),
                               signed (-8..7, two's complement nibbles, sign-extended on unpacking) or
                               unsigned (0..15)

    >>> packed = pack_bits(torch.tensor([1, 2, 3, 4, 5, 6, 7, 0], dtype=torch.uint8), 3)
    >>> packed.numel(), unpack_bits(packed, 3, 8).tolist()
    (3, [1, 2, 3, 4, 5, 6, 7, 0])
    >>> pack_int4(torch.tensor([[1, -2]], dtype=torch.int8)).tolist()  # 1 | (0xE << 4)
    [[225]]
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


def pack_int4(q: torch.Tensor) -> torch.Tensor:
    """(..., n) codes in -8..7 (int8) or 0..15 (uint8) -> (..., n/2) uint8 bytes, in `pack_bits`' layout."""
    if q.dtype not in (torch.int8, torch.uint8):
        raise ValueError(f"q must be int8 (-8..7) or uint8 (0..15) codes, got dtype {q.dtype}")
    if q.shape[-1] % 2:
        raise ValueError(f"the last dimension must be even to pack two codes per byte, got {q.shape[-1]}")
    lo_ok, hi_ok = (-8, 7) if q.dtype == torch.int8 else (0, 15)
    if q.numel() and (int(q.min()) < lo_ok or int(q.max()) > hi_ok):
        raise ValueError(f"q must hold 4-bit codes in {lo_ok}..{hi_ok} for dtype {q.dtype}")
    nibbles = q.to(torch.int16) & 0xF  # two's complement low nibble for negatives
    # An even row length keeps every byte inside one row; the stream's padding bytes come last.
    stream = pack_bits(nibbles, 4)[: q.numel() // 2]
    return stream.reshape(*q.shape[:-1], q.shape[-1] // 2)


def unpack_int4(packed: torch.Tensor, signed: bool = True) -> torch.Tensor:
    """(..., n/2) uint8 -> (..., n) codes: int8 in -8..7 when `signed`, else uint8 in 0..15."""
    if packed.dtype != torch.uint8:
        raise ValueError(f"packed must be uint8, got dtype {packed.dtype}")
    count = packed.numel() * 2
    flat = packed.reshape(-1)
    stream = torch.cat([flat, flat.new_zeros(packed_size(count, 4) - flat.numel())])  # whole runs
    codes = unpack_bits(stream, 4, count).reshape(*packed.shape[:-1], packed.shape[-1] * 2)
    if not signed:
        return codes
    wide = codes.to(torch.int16)
    return torch.where(wide >= 8, wide - 16, wide).to(torch.int8)  # sign-extend the nibble
