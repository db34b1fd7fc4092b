"""ggml block formats: our NumPy (de)quantizers are bit-exact with the reference `gguf.quants`."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.formats import GGMLType
from groundup.formats.ggml_quants import BLOCK_DEQUANTIZERS, BLOCK_QUANTIZERS, dequantize, quantize
from groundup.formats.ggml_types import LAYOUTS

gguf = pytest.importorskip("gguf")
pytestmark = pytest.mark.module("1.4")

DEQUANT_TYPES = [GGMLType.F32, GGMLType.F16, GGMLType.BF16, *BLOCK_DEQUANTIZERS]
QUANT_TYPES = [GGMLType.F16, GGMLType.BF16, *BLOCK_QUANTIZERS]


def random_blocks(ggml_type: GGMLType, rows: int, blocks_per_row: int, rng) -> np.ndarray:
    """Random stored bytes whose float16 fields are finite (random bits would make NaN scales)."""
    layout = LAYOUTS[ggml_type]
    raw = rng.integers(0, 256, size=(rows, blocks_per_row, layout.type_size), dtype=np.uint8)
    if layout.block_size > 1:
        # overwrite every 16-bit field that may hold a scale with a modest finite float16
        halves = rng.uniform(-2, 2, size=(rows, blocks_per_row, layout.type_size // 2)).astype(np.float16)
        scale_slots = {
            GGMLType.Q2_K: [40, 41],
            GGMLType.Q3_K: [54],
            GGMLType.Q6_K: [104],
        }.get(ggml_type, [0, 1])
        view = raw[..., : layout.type_size // 2 * 2].view(np.uint16)
        for slot in scale_slots:
            view[..., slot] = halves[..., slot].view(np.uint16)
    elif ggml_type is not GGMLType.F32:
        values = rng.normal(size=(rows, blocks_per_row)).astype(np.float32)
        return quantize(values, ggml_type).view(np.uint8).reshape(rows, -1)
    else:
        return rng.normal(size=(rows, blocks_per_row)).astype(np.float32).view(np.uint8)
    return raw.reshape(rows, -1)


@pytest.mark.parametrize("ggml_type", DEQUANT_TYPES, ids=lambda t: t.name)
def test_dequantize_random_blocks_bit_exact(ggml_type):
    rng = np.random.default_rng(int(ggml_type))
    raw = random_blocks(
        ggml_type, rows=8, blocks_per_row=4 if LAYOUTS[ggml_type].block_size > 1 else 256, rng=rng
    )
    ours = dequantize(raw, ggml_type)
    ref = gguf.quants.dequantize(raw, gguf.GGMLQuantizationType(int(ggml_type)))
    assert ours.dtype == np.float32 and ours.shape == ref.shape
    np.testing.assert_array_equal(ours.view(np.uint32), np.asarray(ref, dtype=np.float32).view(np.uint32))


@pytest.mark.parametrize("ggml_type", QUANT_TYPES, ids=lambda t: t.name)
@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(1, 4),
    blocks=st.integers(1, 3),
    scale=st.sampled_from([1e-3, 1.0, 50.0]),
    seed=st.integers(0, 2**32 - 1),
    zero_block=st.booleans(),
)
def test_quantize_bit_exact(ggml_type, rows, blocks, scale, seed, zero_block):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, 32 * blocks)) * scale).astype(np.float32)
    if zero_block:
        x[0, :32] = 0  # all-zero blocks take the d == 0 path
    ours = quantize(x, ggml_type)
    ref = gguf.quants.quantize(x, gguf.GGMLQuantizationType(int(ggml_type)))
    np.testing.assert_array_equal(ours.view(np.uint8), np.asarray(ref).view(np.uint8))
    back = dequantize(ours, ggml_type)
    assert back.shape == x.shape


def test_quantize_ties_and_extremes_bit_exact():
    """Halfway values (round-half-away vs to-even) and a repeated absolute maximum."""
    x = np.array([[0.5, -0.5, 1.5, -2.5, 127, -127] + [63.5] * 26], dtype=np.float32)
    for ggml_type in BLOCK_QUANTIZERS:
        ref = gguf.quants.quantize(x, gguf.GGMLQuantizationType(int(ggml_type)))
        np.testing.assert_array_equal(quantize(x, ggml_type), ref)


def test_quantize_rejects_ragged_rows():
    with pytest.raises(ValueError, match="x: rows"):
        quantize(np.zeros((2, 33), np.float32), GGMLType.Q8_0)


def test_every_smollm2_tensor_dequantizes_bit_exact(our_reader, ref_reader):
    assert len(our_reader.tensors) == len(ref_reader.tensors) == 272
    for t in ref_reader.tensors:
        ours = our_reader.dequantize(t.name)
        ref = gguf.quants.dequantize(t.data, t.tensor_type)
        np.testing.assert_array_equal(
            ours.view(np.uint32), ref.reshape(ours.shape).view(np.uint32), err_msg=t.name
        )
