"""Fake quantization with the straight-through estimator (STE), the building block of QAT.

Forward: x -> dequantize(quantize(x)), a float tensor that carries the rounding and clipping error.
Backward: round() has zero gradient almost everywhere, so the STE pretends it is the identity:

    dL/dx = dL/dy · 1[qmin <= round(x/s) + z <= qmax]

i.e. the gradient flows unchanged inside the clipping range and is zero where the value was clamped.
This is exactly the gradient of torch.fake_quantize_per_tensor_affine, which the tests compare against.
"""

from __future__ import annotations

import torch

from groundup.quant.affine import QScheme, calc_qparams, minmax, to_groups


class _FakeQuantizeSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale, zero_point, qmin, qmax):
        codes = torch.round(x * (1.0 / scale)) + zero_point
        inside = (codes >= qmin) & (codes <= qmax)
        ctx.save_for_backward(inside)
        return (codes.clamp(qmin, qmax) - zero_point) * scale

    @staticmethod
    def backward(ctx, grad_out):
        (inside,) = ctx.saved_tensors
        return grad_out * inside, None, None, None, None


def fake_quantize_affine(
    x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, qmin: int, qmax: int
) -> torch.Tensor:
    """Quantize-dequantize `x` elementwise (broadcasting scale/zero) with the STE gradient."""
    return _FakeQuantizeSTE.apply(x, scale.detach().float(), zero_point.detach().float(), qmin, qmax)


def fake_quantize(
    x: torch.Tensor,
    scheme: QScheme,
    scale: torch.Tensor | None = None,
    zero_point: torch.Tensor | None = None,
) -> torch.Tensor:
    """Fake-quantize at the scheme's granularity; the range is x's own min/max unless params are given."""
    if scale is None or zero_point is None:
        scale, zero_point = calc_qparams(*minmax(x, scheme), scheme)
    if scheme.granularity == "group":
        y = fake_quantize_affine(to_groups(x, scheme.group_size), scale, zero_point, scheme.qmin, scheme.qmax)
        return y.reshape(x.shape)
    return fake_quantize_affine(x, scale, zero_point, scheme.qmin, scheme.qmax)
