"""Our fused kernels on any number of rows of x (a serving step batches 9-64 decoding requests): the
float kernel decodes each block of 4 weight rows once into a panel that every row of x reuses, and must
still equal the dequantize-then-float32 reference within float32 rounding; each output is summed in the
same order whatever the batch, so a row of x gets bit-identical outputs alone or in any batch.

Tolerance: |y - reference| <= 2e-5 · Σ_k |x_k| |W_nk| per output, float32 rounding of the summed
terms (both sides sum up to ~1200 products in different orders; 2e-5 is ~300 float32 epsilons).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.kernels import int4, int8, native
from groundup.models import quantized
from groundup.models.quantized import GroupWeight, QuantizedLinear

pytestmark = [
    pytest.mark.module("1.5"),
    pytest.mark.skipif(not native.available(), reason="the compiled kernels did not build"),
]


def group_weight(bits: int, n: int, k: int, seed: int, with_min: bool = True) -> GroupWeight:
    g = torch.Generator().manual_seed(seed)
    scale = (torch.rand(n, k // 32, generator=g) * 0.1 + 0.01).half()
    mins = (-torch.rand(n, k // 32, generator=g) * 0.8).half() if with_min else None
    if bits == 4:
        codes = torch.randint(0, 256, (n, k // 2), dtype=torch.uint8, generator=g)
    else:
        codes = torch.randint(-128, 128, (n, k), dtype=torch.int8, generator=g)
    return GroupWeight(bits, codes, scale, mins)


def fused(w: GroupWeight, x: torch.Tensor) -> torch.Tensor:
    kernel = native.q4_matmul if w.bits == 4 else native.q8_matmul
    return kernel(x, w.codes, w.scale, w.min)


def assert_within_float32_rounding(y: torch.Tensor, x: torch.Tensor, w: GroupWeight) -> None:
    dense = w.dequantize()
    reference = x.double() @ dense.double().T
    magnitude = x.double().abs() @ dense.double().abs().T
    assert bool(((y.double() - reference).abs() <= 2e-5 * magnitude + 1e-12).all())


@settings(max_examples=30, deadline=None)
@given(
    bits=st.sampled_from([4, 8]),
    m=st.integers(1, 130),
    n=st.integers(1, 23),
    groups=st.integers(1, 37),
    with_min=st.booleans(),
    seed=st.integers(0, 99),
)
def test_fused_kernel_equals_the_float_reference_for_any_row_count(bits, m, n, groups, with_min, seed):
    """1-130 rows (the register tiles of 4 and their remainders), N not a multiple of the 4-row block,
    odd group counts and counts past 16 (the scale chunks)."""
    w = group_weight(bits, n, 32 * groups, seed, with_min=with_min or bits == 4)
    x = torch.randn(m, 32 * groups, generator=torch.Generator().manual_seed(seed + 1))
    assert_within_float32_rounding(fused(w, x), x, w)


@pytest.mark.parametrize("bits", [4, 8])
def test_a_row_gets_the_same_outputs_alone_or_in_any_batch(bits):
    """Batch invariance: the 1-row path (decoded in registers) and the panel path (2+ rows) sum every
    output in the same order, so serving a request with others changes none of its bits."""
    w = group_weight(bits, 37, 96 * 3, seed=1)
    x = torch.randn(67, 96 * 3)
    batched = fused(w, x)
    for m in (1, 2, 3, 5, 8, 9, 64):
        assert torch.equal(fused(w, x[:m]), batched[:m])
    assert all(torch.equal(fused(w, x[i : i + 1]), batched[i : i + 1]) for i in range(0, 67, 11))


@pytest.mark.parametrize("bits", [4, 8])
def test_batched_kernel_gives_the_same_bits_on_two_threads(bits):
    w = group_weight(bits, 64, 256, seed=2)
    x = torch.randn(21, 256)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = fused(w, x)
        torch.set_num_threads(2)
        two = fused(w, x)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, two)


@pytest.mark.parametrize("bits", [4, 8])
def test_quantized_linear_runs_the_fused_kernel_up_to_the_crossover(bits):
    """Up to FUSED_MAX_ROWS rows straight into the fused kernel (a serving step's batch), above it
    dequantize + one float32 GEMM (prefill); both agree with the float reference."""
    w = group_weight(bits, 40, 128, seed=3)
    layer = QuantizedLinear(w)
    limit = quantized.FUSED_MAX_ROWS
    x = torch.randn(limit + 1, 128)
    assert layer._decode_step(x[:limit]) is not None and layer._decode_step(x) is None
    assert torch.equal(layer(x[:limit]), fused(w, x[:limit]))
    ref = int4.matmul_reference if bits == 4 else int8.matmul_reference
    torch.testing.assert_close(layer(x), ref(x, w.codes, w.scale, w.min), rtol=1e-5, atol=1e-4)
    assert_within_float32_rounding(layer(x[:limit]), x[:limit], w)


@pytest.mark.parametrize("bits", [4, 8])
def test_a_dot8_layer_uses_the_exact_kernel_above_its_row_limit(bits):
    """`kernel="dot8"` rounds x to int8 only up to DOT8_MAX_ROWS rows; a larger batch runs the exact
    float kernel (faster there: it reuses each decoded block for 4 rows of x)."""
    w = group_weight(bits, 24, 96, seed=4)
    layer = QuantizedLinear(w, kernel="dot8")
    small, batch = torch.randn(quantized.DOT8_MAX_ROWS, 96), torch.randn(quantized.DOT8_MAX_ROWS + 1, 96)
    dot8 = native.q4_matmul_dot8 if bits == 4 else native.q8_matmul_dot8
    assert torch.equal(layer(small), dot8(small, w.codes, w.scale, w.min))
    assert torch.equal(layer(batch), fused(w, batch))
    assert torch.equal(layer._matmul(batch), fused(w, batch))
