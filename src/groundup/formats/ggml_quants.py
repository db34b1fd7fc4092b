"""ggml block formats in NumPy: dequantize every common type; quantize the legacy ones and the K-quants.

A quantized row of n weights is n / block_size blocks; each block stores one or two float16 scale
numbers and small integers q packed into bits. Decoding is always `x = d * q` (symmetric formats,
q centred on zero) or `x = d * q + m` / `x = d * q - dmin * m` (formats with a minimum). The
K-quants group 256 weights in a super-block with 16 or 8 sub-blocks, each with its own 4-8 bit
scale that is itself multiplied by the super-block's float16 `d`.

Layouts follow ggml's `ggml-common.h`; every function is checked bit-exact against the reference
`gguf.quants` (tests/formats/test_ggml_quants.py), which also means the same float32 operation order.
The K-quant quantizers (searches for sub-block scales) live in `k_quants.py` and are checked byte for
byte against llama.cpp's own quantizer (tests/formats/test_k_quants.py).
"""

from __future__ import annotations

import numpy as np

from groundup.formats import k_quants
from groundup.formats.ggml_types import LAYOUTS, QK_K, GGMLType

PLAIN_DTYPES = {
    GGMLType.F32: np.float32,
    GGMLType.F16: np.float16,
    GGMLType.BF16: np.uint16,
    GGMLType.F64: np.float64,
    GGMLType.I8: np.int8,
    GGMLType.I16: np.int16,
    GGMLType.I32: np.int32,
    GGMLType.I64: np.int64,
}


def raw_view(flat: np.ndarray, ggml_type: GGMLType, shape: tuple[int, ...]) -> np.ndarray:
    """View the stored bytes of a tensor: typed elements for plain types, uint8 rows for blocks."""
    if ggml_type in PLAIN_DTYPES:
        return flat.view(PLAIN_DTYPES[ggml_type]).reshape(shape)
    layout = LAYOUTS[ggml_type]
    return flat.reshape(*shape[:-1], shape[-1] // layout.block_size * layout.type_size)


def _f16(b: np.ndarray) -> np.ndarray:
    """Bytes (n_blocks, 2) holding a float16 -> float32 (n_blocks, 1)."""
    return np.ascontiguousarray(b).view(np.float16).astype(np.float32)


def _nibbles(qs: np.ndarray) -> np.ndarray:
    """(n_blocks, 16) bytes -> (n_blocks, 32) values: low nibbles are weights 0-15, high ones 16-31."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=-1)


def _bits(packed: np.ndarray, count: int) -> np.ndarray:
    """Little-endian bit unpacking: (n_blocks, count / 8) bytes -> (n_blocks, count) of 0/1."""
    return np.unpackbits(packed, axis=-1, count=count, bitorder="little")


# ---------------------------------------------------------------- 32-weight blocks


def _deq_q4_0(b):  # d: f16 | qs: 16 bytes of nibbles, q in [0, 15] centred at 8
    return _f16(b[:, :2]) * (_nibbles(b[:, 2:]).astype(np.int8) - np.int8(8)).astype(np.float32)


def _deq_q4_1(b):  # d: f16 | m: f16 | qs: 16 bytes
    return _f16(b[:, :2]) * _nibbles(b[:, 4:]).astype(np.float32) + _f16(b[:, 2:4])


def _deq_q5_0(b):  # d: f16 | qh: 32 high bits | qs: 16 bytes of low nibbles
    q = _nibbles(b[:, 6:]) | (_bits(b[:, 2:6], 32) << 4)
    return _f16(b[:, :2]) * (q.astype(np.int8) - np.int8(16)).astype(np.float32)


def _deq_q5_1(b):  # d: f16 | m: f16 | qh: 32 high bits | qs: 16 bytes
    q = _nibbles(b[:, 8:]) | (_bits(b[:, 4:8], 32) << 4)
    return _f16(b[:, :2]) * q.astype(np.float32) + _f16(b[:, 2:4])


def _deq_q8_0(b):  # d: f16 | qs: 32 int8
    return np.ascontiguousarray(b[:, 2:]).view(np.int8).astype(np.float32) * _f16(b[:, :2])


# ---------------------------------------------------------------- 256-weight K-quant super-blocks


def _crumbs(qs: np.ndarray) -> np.ndarray:
    """2-bit fields: (n, 64) bytes -> (n, 256). Each 32-byte half gives 128 weights, 32 per shift 0,2,4,6."""
    n = qs.shape[0]
    shifts = np.array([0, 2, 4, 6], dtype=np.uint8).reshape(1, 1, 4, 1)
    return ((qs.reshape(n, 2, 1, 32) >> shifts) & 3).reshape(n, QK_K)


def _deq_q2_k(b):  # scales: 16 (low 4 bits scale, high 4 bits min) | qs: 64 | d: f16 | dmin: f16
    n = b.shape[0]
    scales = b[:, :16]
    dl = (_f16(b[:, 80:82]) * (scales & 0x0F).astype(np.float32)).reshape(n, 16, 1)
    ml = (_f16(b[:, 82:84]) * (scales >> 4).astype(np.float32)).reshape(n, 16, 1)
    q = _crumbs(b[:, 16:80]).reshape(n, 16, 16).astype(np.float32)
    return (dl * q - ml).reshape(n, QK_K)


def _deq_q3_k(b):  # hmask: 32 | qs: 64 | scales: 12 (16 x 6 bits) | d: f16
    n = b.shape[0]
    packed = b[:, 96:108]
    low = np.concatenate([packed[:, :8] & 0x0F, packed[:, :8] >> 4], axis=-1)  # (n, 16)
    shifts = np.array([0, 2, 4, 6], dtype=np.uint8).reshape(1, 4, 1)
    high = ((packed[:, 8:12].reshape(n, 1, 4) >> shifts) & 3).reshape(n, 16)
    scales = ((low | (high << 4)).astype(np.int8) - np.int8(32)).astype(np.float32)
    dl = (_f16(b[:, 108:110]) * scales).reshape(n, 16, 1)
    # hmask bit j of byte l is the high bit of weight 32*j + l; a *clear* bit subtracts 4
    bit = np.arange(8, dtype=np.uint8).reshape(1, 8, 1)
    hbit = (b[:, :32].reshape(n, 1, 32) >> bit) & 1
    q = _crumbs(b[:, 32:96]).astype(np.int8) - ((hbit ^ 1) << 2).reshape(n, QK_K).astype(np.int8)
    return (dl * q.reshape(n, 16, 16).astype(np.float32)).reshape(n, QK_K)


def _scale_min_k4(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unpack 8 six-bit scales and 8 six-bit mins from 12 bytes (Q4_K and Q5_K).

    Bytes 0-3 hold scales 0-3 (low 6 bits) and the top 2 bits of scales 4-7; bytes 4-7 the same for
    the mins; bytes 8-11 the low nibbles of scales 4-7 (low half) and mins 4-7 (high half).
    """
    s, m, extra = packed[:, 0:4], packed[:, 4:8], packed[:, 8:12]
    scale = np.concatenate([s & 0x3F, (extra & 0x0F) | ((s >> 2) & 0x30)], axis=-1)
    minimum = np.concatenate([m & 0x3F, (extra >> 4) | ((m >> 2) & 0x30)], axis=-1)
    return scale, minimum


def _k4_nibbles(qs: np.ndarray) -> np.ndarray:
    """(n, 128) bytes -> (n, 8, 32): each 32-byte run gives a sub-block of low then one of high nibbles."""
    n = qs.shape[0]
    return np.stack([qs.reshape(n, 4, 32) & 0x0F, qs.reshape(n, 4, 32) >> 4], axis=2).reshape(n, 8, 32)


def _deq_q4_k(b):  # d: f16 | dmin: f16 | scales: 12 | qs: 128
    n = b.shape[0]
    scale, minimum = _scale_min_k4(b[:, 4:16])
    d = (_f16(b[:, :2]) * scale.astype(np.float32)).reshape(n, 8, 1)
    dm = (_f16(b[:, 2:4]) * minimum.astype(np.float32)).reshape(n, 8, 1)
    return (d * _k4_nibbles(b[:, 16:]).astype(np.float32) - dm).reshape(n, QK_K)


def _deq_q5_k(b):  # d: f16 | dmin: f16 | scales: 12 | qh: 32 | qs: 128
    n = b.shape[0]
    scale, minimum = _scale_min_k4(b[:, 4:16])
    d = (_f16(b[:, :2]) * scale.astype(np.float32)).reshape(n, 8, 1)
    dm = (_f16(b[:, 2:4]) * minimum.astype(np.float32)).reshape(n, 8, 1)
    bit = np.arange(8, dtype=np.uint8).reshape(1, 8, 1)
    high = (b[:, 16:48].reshape(n, 1, 32) >> bit) & 1  # bit j of byte l -> sub-block j, weight l
    q = _k4_nibbles(b[:, 48:]) | (high << 4)
    return (d * q.astype(np.float32) - dm).reshape(n, QK_K)


def _deq_q6_k(b):  # ql: 128 (low 4 bits) | qh: 64 (high 2 bits) | scales: 16 int8 | d: f16
    n = b.shape[0]
    ql = b[:, :128].reshape(n, 2, 1, 64) >> np.array([0, 4], dtype=np.uint8).reshape(1, 1, 2, 1)
    ql = (ql & 0x0F).reshape(n, 8, 32)
    qh = b[:, 128:192].reshape(n, 2, 1, 32) >> np.array([0, 2, 4, 6], dtype=np.uint8).reshape(1, 1, 4, 1)
    qh = (qh & 3).reshape(n, 8, 32)
    q = ((ql | (qh << 4)).astype(np.int8) - np.int8(32)).reshape(n, 16, 16).astype(np.float32)
    scales = np.ascontiguousarray(b[:, 192:208]).view(np.int8).astype(np.float32)
    d = (_f16(b[:, 208:210]) * scales).reshape(n, 16, 1)
    return (d * q).reshape(n, QK_K)


BLOCK_DEQUANTIZERS = {
    GGMLType.Q4_0: _deq_q4_0,
    GGMLType.Q4_1: _deq_q4_1,
    GGMLType.Q5_0: _deq_q5_0,
    GGMLType.Q5_1: _deq_q5_1,
    GGMLType.Q8_0: _deq_q8_0,
    GGMLType.Q2_K: _deq_q2_k,
    GGMLType.Q3_K: _deq_q3_k,
    GGMLType.Q4_K: _deq_q4_k,
    GGMLType.Q5_K: _deq_q5_k,
    GGMLType.Q6_K: _deq_q6_k,
}


def dequantize(raw: np.ndarray, ggml_type: GGMLType) -> np.ndarray:
    """Stored data (as from `raw_view`, or any array of its bytes) -> float32; the last axis becomes
    the number of weights per row."""
    ggml_type = GGMLType(ggml_type)
    if ggml_type is GGMLType.BF16:
        return (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    if ggml_type in PLAIN_DTYPES:
        return raw.view(PLAIN_DTYPES[ggml_type]).astype(np.float32)
    if ggml_type not in BLOCK_DEQUANTIZERS:
        supported = ", ".join(t.name for t in (*PLAIN_DTYPES, *BLOCK_DEQUANTIZERS))
        raise NotImplementedError(f"dequantizing {ggml_type.name} is not implemented; supported: {supported}")
    layout = LAYOUTS[ggml_type]
    raw = raw.view(np.uint8)
    rows = raw.shape[:-1]
    blocks = raw.reshape(-1, layout.type_size)  # (n_blocks, type_size)
    out = BLOCK_DEQUANTIZERS[ggml_type](blocks)  # (n_blocks, block_size)
    return out.reshape(*rows, raw.shape[-1] // layout.type_size * layout.block_size)


# ---------------------------------------------------------------- quantization


def _inverse(d: np.ndarray) -> np.ndarray:
    """1/d with 0 where d is 0 (an all-zero block quantizes to zeros)."""
    with np.errstate(divide="ignore"):
        return np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """C's roundf: halves go away from zero (NumPy's round goes to even)."""
    return np.sign(x) * np.floor(np.abs(x) + np.float32(0.5))


def _pack_nibbles(q: np.ndarray) -> np.ndarray:
    """(n, 32) values < 16 (low 4 bits used) -> (n, 16) bytes: weight j low, weight j + 16 high."""
    return (q[:, :16] & 0x0F) | (q[:, 16:] << 4)


def _absmax_signed(blocks: np.ndarray) -> np.ndarray:
    """The weight of largest magnitude with its sign (first one on ties), shape (n, 1)."""
    return np.take_along_axis(blocks, np.abs(blocks).argmax(axis=-1, keepdims=True), axis=-1)


def _half(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float16).view(np.uint8)


def _q_q8_0(x):
    d = np.abs(x).max(axis=-1, keepdims=True) / np.float32(127)
    q = _round_half_away(x * _inverse(d)).astype(np.int8)
    return np.concatenate([_half(d), q.view(np.uint8)], axis=-1)


def _q_q4_0(x):
    d = _absmax_signed(x) / np.float32(-8)  # the extreme weight maps to q = 0 (i.e. -8)
    q = np.trunc(x * _inverse(d) + np.float32(8.5)).astype(np.uint8).clip(0, 15)
    return np.concatenate([_half(d), _pack_nibbles(q)], axis=-1)


def _q_q4_1(x):
    lo, hi = x.min(axis=-1, keepdims=True), x.max(axis=-1, keepdims=True)
    d = (hi - lo) / np.float32(15)
    q = np.trunc((x - lo) * _inverse(d) + np.float32(0.5)).astype(np.uint8).clip(0, 15)
    return np.concatenate([_half(d), _half(lo), _pack_nibbles(q)], axis=-1)


def _q_q5_0(x):
    d = _absmax_signed(x) / np.float32(-16)
    q = np.trunc(x * _inverse(d) + np.float32(16.5)).astype(np.uint8).clip(0, 31)
    qh = np.packbits(q >> 4, axis=-1, bitorder="little")
    return np.concatenate([_half(d), qh, _pack_nibbles(q)], axis=-1)


def _q_q5_1(x):
    lo, hi = x.min(axis=-1, keepdims=True), x.max(axis=-1, keepdims=True)
    d = (hi - lo) / np.float32(31)
    q = np.trunc((x - lo) * _inverse(d) + np.float32(0.5)).astype(np.uint8).clip(0, 31)
    qh = np.packbits(q >> 4, axis=-1, bitorder="little")
    return np.concatenate([_half(d), _half(lo), qh, _pack_nibbles(q)], axis=-1)


BLOCK_QUANTIZERS = {
    GGMLType.Q8_0: _q_q8_0,
    GGMLType.Q4_0: _q_q4_0,
    GGMLType.Q4_1: _q_q4_1,
    GGMLType.Q5_0: _q_q5_0,
    GGMLType.Q5_1: _q_q5_1,
}
# the K-quants' searches (k_quants.py), checked against llama.cpp itself rather than `gguf.quants`
K_QUANTIZERS = {
    GGMLType.Q2_K: k_quants.quantize_q2_k,
    GGMLType.Q3_K: k_quants.quantize_q3_k,
    GGMLType.Q4_K: k_quants.quantize_q4_k,
    GGMLType.Q5_K: k_quants.quantize_q5_k,
    GGMLType.Q6_K: k_quants.quantize_q6_k,
}
CHUNK_BLOCKS = 512  # super-blocks per call: the searches' temporaries stay in cache (~0.5 MB each)


def _to_bf16(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits with round-to-nearest-even; NaNs stay (quiet) NaNs."""
    bits = x.view(np.uint32)
    is_nan = (bits & 0x7FFFFFFF) > 0x7F800000
    bits = np.where(is_nan, (bits & np.uint32(0xFFFF0000)) | np.uint32(0x400000), bits)
    rounded = (bits.astype(np.uint64) + (0x7FFF + ((bits >> 16) & 1))) >> 16
    return rounded.astype(np.uint16)


def quantize(x: np.ndarray, ggml_type: GGMLType) -> np.ndarray:
    """float weights -> stored data: typed for F32/F16/BF16, uint8 rows of blocks otherwise."""
    ggml_type = GGMLType(ggml_type)
    x = np.ascontiguousarray(x, dtype=np.float32)
    if ggml_type is GGMLType.F32:
        return x
    if ggml_type is GGMLType.F16:
        return x.astype(np.float16)
    if ggml_type is GGMLType.BF16:
        return _to_bf16(x)
    quantizers = BLOCK_QUANTIZERS | K_QUANTIZERS
    if ggml_type not in quantizers:
        supported = ", ".join(["F32", "F16", "BF16", *(t.name for t in quantizers)])
        raise NotImplementedError(
            f"quantizing to {ggml_type.name} is not implemented; supported: {supported}"
        )
    layout = LAYOUTS[ggml_type]
    if x.ndim == 0 or x.shape[-1] % layout.block_size:
        raise ValueError(
            f"x: rows of {x.shape[-1:]} weights cannot be split into {ggml_type.name} blocks of {layout.block_size}"
        )
    blocks = x.reshape(-1, layout.block_size)  # (n_blocks, block_size)
    step = CHUNK_BLOCKS * QK_K // layout.block_size
    parts = [quantizers[ggml_type](blocks[i : i + step]) for i in range(0, len(blocks), step)]
    empty = np.empty((0, layout.type_size), np.uint8)
    out = np.concatenate(parts) if parts else empty  # (n_blocks, type_size)
    return out.reshape(*x.shape[:-1], x.shape[-1] // layout.block_size * layout.type_size)
