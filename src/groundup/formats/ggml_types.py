"""The ggml tensor types a GGUF file can name: their ids, block sizes and bytes per block.

ggml stores quantized tensors in blocks: `block_size` consecutive weights (along the innermost
dimension) packed into `type_size` bytes. Plain types (F32, F16, ...) are blocks of one element.
The table follows ggml's `ggml_type` enum; ids that ggml retired are simply absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class GGMLType(IntEnum):
    F32 = 0
    F16 = 1
    Q4_0 = 2
    Q4_1 = 3
    Q5_0 = 6
    Q5_1 = 7
    Q8_0 = 8
    Q8_1 = 9
    Q2_K = 10
    Q3_K = 11
    Q4_K = 12
    Q5_K = 13
    Q6_K = 14
    Q8_K = 15
    IQ2_XXS = 16
    IQ2_XS = 17
    IQ3_XXS = 18
    IQ1_S = 19
    IQ4_NL = 20
    IQ3_S = 21
    IQ2_S = 22
    IQ4_XS = 23
    I8 = 24
    I16 = 25
    I32 = 26
    I64 = 27
    F64 = 28
    IQ1_M = 29
    BF16 = 30
    TQ1_0 = 34
    TQ2_0 = 35


QK_K = 256  # super-block size of the K-quants


@dataclass(frozen=True)
class BlockLayout:
    block_size: int  # weights per block
    type_size: int  # bytes per block


LAYOUTS: dict[GGMLType, BlockLayout] = {
    GGMLType.F32: BlockLayout(1, 4),
    GGMLType.F16: BlockLayout(1, 2),
    GGMLType.BF16: BlockLayout(1, 2),
    GGMLType.F64: BlockLayout(1, 8),
    GGMLType.I8: BlockLayout(1, 1),
    GGMLType.I16: BlockLayout(1, 2),
    GGMLType.I32: BlockLayout(1, 4),
    GGMLType.I64: BlockLayout(1, 8),
    GGMLType.Q4_0: BlockLayout(32, 2 + 16),
    GGMLType.Q4_1: BlockLayout(32, 2 + 2 + 16),
    GGMLType.Q5_0: BlockLayout(32, 2 + 4 + 16),
    GGMLType.Q5_1: BlockLayout(32, 2 + 2 + 4 + 16),
    GGMLType.Q8_0: BlockLayout(32, 2 + 32),
    GGMLType.Q8_1: BlockLayout(32, 4 + 4 + 32),
    GGMLType.Q2_K: BlockLayout(QK_K, 2 + 2 + QK_K // 16 + QK_K // 4),
    GGMLType.Q3_K: BlockLayout(QK_K, 2 + QK_K // 4 + QK_K // 8 + 12),
    GGMLType.Q4_K: BlockLayout(QK_K, 2 + 2 + QK_K // 2 + 12),
    GGMLType.Q5_K: BlockLayout(QK_K, 2 + 2 + QK_K // 2 + QK_K // 8 + 12),
    GGMLType.Q6_K: BlockLayout(QK_K, 2 + QK_K // 2 + QK_K // 4 + QK_K // 16),
    GGMLType.Q8_K: BlockLayout(QK_K, 4 + QK_K + QK_K // 8),
    GGMLType.IQ2_XXS: BlockLayout(QK_K, 2 + QK_K // 4),
    GGMLType.IQ2_XS: BlockLayout(QK_K, 2 + QK_K // 4 + QK_K // 32),
    GGMLType.IQ3_XXS: BlockLayout(QK_K, 2 + QK_K // 4 + QK_K // 8),
    GGMLType.IQ1_S: BlockLayout(QK_K, 2 + QK_K // 8 + QK_K // 16),
    GGMLType.IQ4_NL: BlockLayout(32, 2 + 16),
    GGMLType.IQ3_S: BlockLayout(QK_K, 2 + QK_K // 4 + QK_K // 8 + QK_K // 32 + 4),
    GGMLType.IQ2_S: BlockLayout(QK_K, 2 + QK_K // 4 + QK_K // 16),
    GGMLType.IQ4_XS: BlockLayout(QK_K, 2 + 2 + QK_K // 2 + QK_K // 64),
    GGMLType.IQ1_M: BlockLayout(QK_K, QK_K // 8 + QK_K // 16 + QK_K // 32),
    GGMLType.TQ1_0: BlockLayout(QK_K, 2 + 4 * 13),
    GGMLType.TQ2_0: BlockLayout(QK_K, 2 + 64),
}


def n_bytes(ggml_type: GGMLType, n_elements: int) -> int:
    """Bytes taken by `n_elements` weights of `ggml_type` (a whole number of blocks)."""
    layout = LAYOUTS[ggml_type]
    return n_elements // layout.block_size * layout.type_size
