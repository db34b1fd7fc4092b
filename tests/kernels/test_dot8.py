"""The int8-activation kernel (`kernel="dot8"`, llama.cpp's method): x quantized per group of 32 to int8
with one float scale, integer dot products with the weight codes.

Its reference, in PyTorch float64, does the same arithmetic step by step (the quantization of x is
reproduced exactly: the same float32 operations and round-half-to-even), so the kernel must agree to
float32 rounding of the terms it sums (relative to their absolute sum: the scale and minimum terms can
cancel); against the float weights it may differ by x's rounding, which is bounded here too.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.kernels import int4, native
from groundup.models.quantized import GroupWeight, QuantizedLinear

pytestmark = [
    pytest.mark.module("1.5"),
    pytest.mark.skipif(not native.available(), reason="the compiled kernels did not build"),
]


def quantize_activations(x: torch.Tensor):
    """x (M, K) float32 -> p (M, K/32, 32) integers, d and d * sum(p) (M, K/32): the kernel's steps."""
    groups = x.view(x.shape[0], -1, 32)
    d = groups.abs().amax(-1) / 127.0
    inverse = torch.where(d != 0, 1.0 / d, torch.zeros_like(d))
    p = torch.round(groups * inverse[..., None])
    return p, d, d * p.sum(-1)


def reference(x, codes_int, scale, mins) -> tuple[torch.Tensor, torch.Tensor]:
    """y (M, N) float64: s * d * sum(q p) + m * d * sum(p) per group, summed over groups; and the sum of
    the terms' absolute values, the scale of float32 rounding (the terms can cancel)."""
    p, d, ds = quantize_activations(x)
    q = codes_int.view(codes_int.shape[0], -1, 32).double()
    dots = torch.einsum("mgj,ngj->mng", p.double(), q)  # exact integer sums
    terms = dots * scale.double()[None] * d.double()[:, None]
    if mins is not None:
        terms = torch.cat([terms, mins.double()[None] * ds.double()[:, None]], dim=-1)
    return terms.sum(-1), terms.abs().sum(-1)


def close_to_reference(y, x, codes_int, scale, mins) -> bool:
    """Within float32 rounding of the terms summed: |y - ref| <= 2e-6 * sum |term| per output."""
    ref, magnitude = reference(x, codes_int, scale, mins)
    return bool(((y.double() - ref).abs() <= 2e-6 * magnitude + 1e-12).all())


def weights(n, k, seed=0):
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 256, (n, k // 2), dtype=torch.uint8, generator=g)
    scale = (torch.rand(n, k // 32, generator=g) * 0.01 + 1e-4).half()
    mins = (-torch.rand(n, k // 32, generator=g) * 0.08).half()
    return codes, scale, mins


def relative(a, b) -> float:
    return ((a.double() - b.double()).abs().max() / b.double().abs().max()).item()


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 9), n=st.integers(1, 40), groups=st.integers(1, 37), seed=st.integers(0, 99))
def test_int4_dot8_equals_its_reference_for_any_shape(m, n, groups, seed):
    """Odd group counts (the 256-bit tail), counts past 16 (the masked scale chunks), 1-9 rows."""
    k = 32 * groups
    codes, scale, mins = weights(n, k, seed)
    x = torch.randn(m, k, generator=torch.Generator().manual_seed(seed + 1))
    y = native.q4_matmul_dot8(x, codes, scale, mins)
    assert close_to_reference(y, x, int4.unpack(codes).long(), scale, mins)


@pytest.mark.parametrize("with_min", [False, True])
@pytest.mark.parametrize("m, n, k", [(1, 1536, 576), (3, 576, 1536), (5, 33, 96)])
def test_int8_dot8_equals_its_reference(m, n, k, with_min):
    g = torch.Generator().manual_seed(1)
    codes = torch.randint(-128, 128, (n, k), dtype=torch.int8, generator=g)
    _, scale, mins = weights(n, k)
    mins = mins if with_min else None
    x = torch.randn(m, k, generator=g)
    y = native.q8_matmul_dot8(x, codes, scale, mins)
    assert close_to_reference(y, x, codes.long(), scale, mins)


def test_dot8_is_close_to_the_float_weights_and_its_error_is_x_rounding():
    """Against the float kernel, the difference comes from rounding x to int8 only: well under 1% of
    the largest output on Gaussian inputs (measured ~0.6%), and exactly zero when x is already int8."""
    codes, scale, mins = weights(1536, 576)
    x = torch.randn(2, 576, generator=torch.Generator().manual_seed(3))
    exact = native.q4_matmul(x, codes, scale, mins)
    assert relative(native.q4_matmul_dot8(x, codes, scale, mins), exact) < 1e-2
    on_grid = torch.randint(-127, 128, (2, 576)).float()
    on_grid.view(2, -1, 32)[..., 0] = 127.0  # every group's scale is exactly 1
    ours = native.q4_matmul_dot8(on_grid, codes, scale, mins)
    assert relative(ours, native.q4_matmul(on_grid, codes, scale, mins)) < 1e-6


def test_dot8_propagates_nan_and_handles_zero_groups():
    codes, scale, mins = weights(8, 64)
    x = torch.zeros(2, 64)
    x[1, 40] = float("nan")
    y = native.q4_matmul_dot8(x, codes, scale, mins)
    assert torch.equal(y[0], torch.zeros(8))
    assert torch.isnan(y[1]).all()


@pytest.mark.parametrize("bits", [4, 8])
def test_quantized_linear_with_dot8(bits):
    """The layer's decode step (straight into the kernel) and its general path give the same result,
    and many rows (prefill) still go through the exact float GEMM."""
    w = torch.randn(96, 128, generator=torch.Generator().manual_seed(4)) * 0.05
    layer = QuantizedLinear(GroupWeight.from_float(w, bits), kernel="dot8")
    x = torch.randn(3, 128, generator=torch.Generator().manual_seed(5))
    step = layer(x)
    general = layer._matmul(x)
    assert torch.equal(step, general)
    kernel = native.q4_matmul_dot8 if bits == 4 else native.q8_matmul_dot8
    assert torch.equal(step, kernel(x, layer.codes, layer.scale, layer.min))
    many = torch.randn(40, 128)
    assert torch.allclose(layer(many), many @ layer.dequantize().T, atol=1e-5)


@settings(max_examples=20, deadline=None)
@given(
    bits=st.sampled_from([4, 8]),
    m=st.integers(1, 130),
    n=st.integers(1, 23),
    groups=st.integers(1, 37),
    seed=st.integers(0, 99),
)
def test_dot8_equals_its_reference_for_any_row_count(bits, m, n, groups, seed):
    """1-130 rows of x over blocks of 4 weight rows (N not a multiple of 4), odd group counts. int8
    codes are summed as w + 128 with -128 s moved into the minimum; the reference takes the same two
    terms, so the tolerance is float32 rounding of what the kernel actually sums (they can cancel)."""
    k = 32 * groups
    codes, scale, mins = weights(n, k, seed)
    x = torch.randn(m, k, generator=torch.Generator().manual_seed(seed + 1))
    if bits == 4:
        y, codes_int = native.q4_matmul_dot8(x, codes, scale, mins), int4.unpack(codes).long()
    else:
        g = torch.Generator().manual_seed(seed)
        codes8 = torch.randint(-128, 128, (n, k), dtype=torch.int8, generator=g)
        y, codes_int = native.q8_matmul_dot8(x, codes8, scale, None), codes8.long() + 128
        mins = (scale.float() * -128).half()  # exact: a power-of-two multiple of a float16
    assert close_to_reference(y, x, codes_int, scale, mins)


def test_dot8_gives_a_row_the_same_outputs_alone_or_in_a_batch():
    codes, scale, mins = weights(37, 96 * 3)
    x = torch.randn(21, 96 * 3)
    batched = native.q4_matmul_dot8(x, codes, scale, mins)
    assert all(
        torch.equal(native.q4_matmul_dot8(x[i : i + 1], codes, scale, mins), batched[i : i + 1])
        for i in range(21)
    )
