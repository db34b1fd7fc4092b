"""K-quant quantizers: byte-for-byte llama.cpp's (when llama-cpp-python is installed), and round trips
through our dequantizer and the reference `gguf.quants` always."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.formats import GGMLType
from groundup.formats.ggml_quants import BLOCK_QUANTIZERS, K_QUANTIZERS, dequantize, quantize
from groundup.formats.ggml_types import LAYOUTS
from groundup.formats.k_quants import _seq_sum

gguf = pytest.importorskip("gguf")
pytestmark = pytest.mark.module("1.4")

K_TYPES = list(K_QUANTIZERS)
# relative RMS error (error / weight std) of Gaussian weights; measured 0.296 0.152 0.071 0.036 0.018
RELATIVE_RMSE = {
    GGMLType.Q2_K: 0.33,
    GGMLType.Q3_K: 0.17,
    GGMLType.Q4_K: 0.08,
    GGMLType.Q5_K: 0.04,
    GGMLType.Q6_K: 0.02,
}


def hard_rows(rng) -> np.ndarray:
    """Super-blocks that take every branch of the searches: constant, all-zero, one-signed, sparse,
    integer-valued (ties), tiny (subnormal), huge and heavy-tailed weights."""
    sparse = rng.standard_normal((20, 256)).astype(np.float32)
    sparse[rng.random(sparse.shape) < 0.9] = 0
    partly_zero = rng.standard_normal((4, 256)).astype(np.float32)
    partly_zero[:, :32] = 0
    return np.concatenate(
        [
            np.full((2, 256), 0.5, np.float32),
            np.full((2, 256), -0.5, np.float32),
            np.zeros((2, 256), np.float32),
            partly_zero,
            -np.abs(rng.standard_normal((20, 256))).astype(np.float32),
            np.abs(rng.standard_normal((20, 256))).astype(np.float32),
            sparse,
            rng.integers(-8, 8, (20, 256)).astype(np.float32),
            (rng.standard_normal((10, 256)) * 1e-20).astype(np.float32),
            (rng.standard_normal((10, 256)) * 1e4).astype(np.float32),
            rng.standard_t(2, (40, 256)).astype(np.float32),
        ]
    )


@pytest.mark.parametrize("ggml_type", K_TYPES, ids=lambda t: t.name)
def test_round_trip_error_and_reference_dequantize(ggml_type):
    rng = np.random.default_rng(int(ggml_type))
    x = rng.standard_normal((64, 512)).astype(np.float32)
    q = quantize(x, ggml_type)
    assert q.dtype == np.uint8 and q.shape == (64, 2 * LAYOUTS[ggml_type].type_size)
    back = dequantize(q, ggml_type)
    ref = gguf.quants.dequantize(q, gguf.GGMLQuantizationType(int(ggml_type)))
    np.testing.assert_array_equal(back.view(np.uint32), np.asarray(ref, np.float32).view(np.uint32))
    assert np.sqrt(np.mean((back - x) ** 2)) < RELATIVE_RMSE[ggml_type]


def test_more_bits_means_less_error():
    x = np.random.default_rng(0).standard_normal((32, 256)).astype(np.float32)
    errors = [np.abs(dequantize(quantize(x, t), t) - x).mean() for t in K_TYPES]
    assert errors == sorted(errors, reverse=True)


@pytest.mark.parametrize("ggml_type", K_TYPES, ids=lambda t: t.name)
@settings(max_examples=15, deadline=None)
@given(
    rows=st.integers(1, 3),
    blocks=st.integers(1, 2),
    scale=st.sampled_from([1e-4, 1.0, 300.0]),
    offset=st.sampled_from([0.0, 1.0, -2.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip_shapes_scales_offsets(ggml_type, rows, blocks, scale, offset, seed):
    rng = np.random.default_rng(seed)
    x = ((rng.standard_normal((rows, 256 * blocks)) + offset) * scale).astype(np.float32)
    back = dequantize(quantize(x, ggml_type), ggml_type)
    assert back.shape == x.shape and np.isfinite(back).all()
    # decoded values stay within the block's range plus one quantization step of slack
    span = (np.abs(x).max() + np.abs(offset * scale)) * 2.5
    assert np.abs(back - x).max() <= span


@pytest.mark.parametrize("ggml_type", K_TYPES, ids=lambda t: t.name)
def test_zero_and_constant_blocks(ggml_type):
    x = np.zeros((1, 256), np.float32)
    np.testing.assert_array_equal(dequantize(quantize(x, ggml_type), ggml_type), x)
    c = np.full((1, 256), -0.75, np.float32)
    np.testing.assert_allclose(dequantize(quantize(c, ggml_type), ggml_type), c, rtol=0.01)


def test_rows_must_be_whole_super_blocks():
    with pytest.raises(ValueError, match="blocks of 256"):
        quantize(np.zeros((2, 576), np.float32), GGMLType.Q4_K)


def test_sequential_sum_is_the_c_loop():
    """The searches' float32 sums add one term at a time, in order (NumPy's `sum` is pairwise)."""
    rng = np.random.default_rng(1)
    terms = (rng.standard_normal((32, 50)) * np.exp(rng.standard_normal((32, 50)) * 6)).astype(np.float32)
    expected = np.zeros(50, np.float32)
    for row in terms:
        expected = (expected + row).astype(np.float32)
    np.testing.assert_array_equal(_seq_sum(terms), expected)


# ---------------------------------------------------------------- llama.cpp's own bytes


@pytest.mark.parametrize("ggml_type", [*K_TYPES, *BLOCK_QUANTIZERS], ids=lambda t: t.name)
def test_bytes_equal_llama_cpp(ggml_type, ggml_quantize, our_reader):
    """Random, adversarial and real SmolLM2 weights: every block equals ggml_quantize_chunk's."""
    rng = np.random.default_rng(7)
    real = our_reader.dequantize("blk.5.ffn_down.weight").reshape(-1, 256)[:600]
    x = np.concatenate([hard_rows(rng), rng.standard_normal((300, 256)).astype(np.float32), real])
    ours = quantize(x, ggml_type)
    theirs = ggml_quantize(x, ggml_type)
    differing = int((ours != theirs).any(axis=1).sum())
    assert differing == 0, f"{differing} of {len(x)} {ggml_type.name} super-blocks differ from llama.cpp's"
