"""Integer kernels: int8 GEMM with int32 accumulation equals float math on the dequantized operands."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from groundup.quant import (
    QScheme,
    int8_matmul,
    quantize,
    quantized_conv2d,
    quantized_linear,
    weight_only_int8_linear,
)

pytestmark = pytest.mark.module("1.5")


@pytest.mark.parametrize(("m", "k", "n"), [(1, 576, 64), (7, 33, 5), (64, 128, 96)])
def test_int8_matmul_accumulates_exactly(m, k, n):
    g = torch.Generator().manual_seed(m)
    a = torch.randint(-128, 128, (m, k), generator=g, dtype=torch.int8)
    b = torch.randint(-128, 128, (n, k), generator=g, dtype=torch.int8)
    acc = int8_matmul(a, b)
    assert acc.dtype == torch.int32
    assert torch.equal(acc.long(), a.long() @ b.long().t())  # int64 reference: no overflow possible


@pytest.mark.parametrize("act_signed", [True, False])
def test_quantized_linear_equals_float_matmul_of_dequantized_operands(act_signed):
    g = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(16, 64, generator=g), torch.randn(32, 64, generator=g), torch.randn(32, generator=g)
    xq = quantize(x, bits=8, symmetric=False, signed=act_signed)
    wq = quantize(w, bits=8, granularity="channel", axis=0)
    y = quantized_linear(xq.q, xq.scale, xq.zero_point, wq.q, wq.scale, b)
    # The integer accumulator is exact; the float64 reference has no rounding at these sizes either.
    x_int = xq.q.double() - xq.zero_point.double()
    acc_ref = x_int @ wq.q.double().t()
    ref = acc_ref * xq.scale.double() * wq.scale.double().reshape(-1) + b.double()
    torch.testing.assert_close(y.double(), ref, rtol=1e-6, atol=1e-6)  # only the final float32 rescale rounds
    deq = xq.dequantize().double() @ wq.dequantize().double().t() + b.double()
    torch.testing.assert_close(y.double(), deq, rtol=1e-5, atol=1e-5)


def test_quantized_conv2d_equals_conv_of_dequantized_operands():
    g = torch.Generator().manual_seed(1)
    x, w, b = (
        torch.randn(2, 3, 9, 9, generator=g).relu(),
        torch.randn(5, 3, 3, 3, generator=g),
        torch.randn(5),
    )
    xq = quantize(x, QScheme(bits=8, symmetric=False, signed=False))
    wq = quantize(w, bits=8, granularity="channel", axis=0)
    for stride, padding, dilation in (((1, 1), (1, 1), (1, 1)), ((2, 2), (0, 2), (1, 2))):
        y = quantized_conv2d(xq.q, xq.scale, xq.zero_point, wq.q, wq.scale, b, stride, padding, dilation)
        ref = F.conv2d(
            xq.dequantize().double(), wq.dequantize().double(), b.double(), stride, padding, dilation
        )
        torch.testing.assert_close(y.double(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("lead", [(2,), (4, 3)])  # 2 rows: fused torch kernel; 12 rows: dequantize + matmul
def test_weight_only_int8_linear_equals_dequantized_weight_matmul(lead):
    x, w = torch.randn(*lead, 64), torch.randn(48, 64)
    wq = quantize(w, bits=8, granularity="channel", axis=0)
    y = weight_only_int8_linear(x, wq.q, wq.scale)
    torch.testing.assert_close(y, x @ wq.dequantize().t(), rtol=1e-5, atol=1e-5)
    assert y.shape == (*lead, 48)
