"""NF4 levels against the table published with QLoRA / bitsandbytes; double quantization; INT4 packing."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.quant import dequantize_nf4, double_quantize, nf4_levels, pack_int4, quantize_nf4, unpack_int4

pytestmark = pytest.mark.module("1.1")

# The NF4 code book as printed in the QLoRA paper's appendix and shipped in bitsandbytes (functional.py).
PUBLISHED_NF4 = [
    -1.0,
    -0.6961928009986877,
    -0.5250730514526367,
    -0.39491748809814453,
    -0.28444138169288635,
    -0.18477343022823334,
    -0.09105003625154495,
    0.0,
    0.07958029955625534,
    0.16093020141124725,
    0.24611230194568634,
    0.33791524171829224,
    0.44070982933044434,
    0.5626170039176941,
    0.7229568362236023,
    1.0,
]


def test_nf4_levels_equal_the_published_table():
    levels = nf4_levels(torch.float64)
    torch.testing.assert_close(levels, torch.tensor(PUBLISHED_NF4, dtype=torch.float64), rtol=0, atol=2e-6)
    assert levels[7] == 0.0 and levels.unique().numel() == 16


def test_nf4_codes_are_the_nearest_level_per_block():
    x = torch.randn(8, 64)
    t = quantize_nf4(x, block_size=64)
    normalised = x.reshape(-1, 64) / x.reshape(-1, 64).abs().amax(dim=1, keepdim=True)
    brute = (normalised.unsqueeze(-1) - nf4_levels()).abs().argmin(dim=-1)  # (blocks, 64)
    assert torch.equal(t.codes.long(), brute.reshape(-1))
    x_hat = dequantize_nf4(t)
    assert x_hat.shape == x.shape
    gaps = nf4_levels().diff().max() / 2 * x.reshape(-1, 64).abs().amax(dim=1, keepdim=True)
    assert torch.all((x - x_hat).reshape(-1, 64).abs() <= gaps + 1e-6)


def test_nf4_beats_uniform_int4_on_normal_weights():
    from groundup.quant import mse, quantize_dequantize

    w = torch.randn(256, 256)
    nf4 = mse(w, quantize_nf4(w, block_size=64).dequantize())
    int4 = mse(w, quantize_dequantize(w, bits=4, granularity="group", group_size=64))
    assert nf4 < int4


def test_double_quantization_shrinks_constants_with_small_error():
    w = torch.randn(4096, 64)
    plain = quantize_nf4(w, block_size=64)
    double = quantize_nf4(w, block_size=64, double_quant=True)
    constants = double.double.dequantize()
    assert constants.shape == plain.absmax.shape
    rel = ((constants - plain.absmax).abs() / plain.absmax).max()
    assert rel < 0.01
    # QLoRA's accounting: 32/64 = 0.5 bits per parameter of constants -> 8/64 + 32/(64·256) ≈ 0.127

    def bits_per_param(t):
        return (t.nbytes() * 8 - t.codes.numel() * 4) / w.numel()

    assert bits_per_param(plain) == pytest.approx(0.5)
    assert bits_per_param(double) == pytest.approx(8 / 64 + 32 / (64 * 256), abs=1e-3)
    assert torch.allclose(double.dequantize(), plain.dequantize(), atol=0.02 * w.abs().max())


def test_double_quantize_handles_a_partial_last_block():
    c = torch.rand(300) + 0.5
    dq = double_quantize(c, block_size=256)
    assert dq.dequantize().shape == (300,)
    assert torch.allclose(dq.dequantize(), c, rtol=0.01)


def test_pack_int4_byte_layout():
    q = torch.tensor([[1, -1, 7, -8]], dtype=torch.int8)
    packed = pack_int4(q)
    assert packed.tolist() == [[0xF1, 0x87]]  # low nibble first; -1 = 0xF, -8 = 0x8
    assert torch.equal(unpack_int4(packed), q)


@settings(max_examples=40, deadline=None)
@given(signed=st.booleans(), rows=st.integers(1, 5), half=st.integers(1, 20), seed=st.integers(0, 1000))
def test_pack_unpack_round_trip(signed, rows, half, seed):
    g = torch.Generator().manual_seed(seed)
    lo, hi, dtype = (-8, 8, torch.int8) if signed else (0, 16, torch.uint8)
    q = torch.randint(lo, hi, (rows, 2 * half), generator=g).to(dtype)
    packed = pack_int4(q)
    assert packed.shape == (rows, half) and packed.dtype == torch.uint8
    assert torch.equal(unpack_int4(packed, signed=signed), q)


def test_pack_refuses_odd_lengths_and_wide_codes():
    with pytest.raises(ValueError, match="even"):
        pack_int4(torch.zeros(3, dtype=torch.int8))
    with pytest.raises(ValueError, match="4-bit codes"):
        pack_int4(torch.tensor([9, 0], dtype=torch.int8))
