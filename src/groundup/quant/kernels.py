"""Integer kernels: int8 x int8 -> int32 matmuls and the rescale that turns them back into floats.

For a linear layer with activation x ≈ s_x (x_q - z_x) and a symmetric weight W ≈ s_w ⊙ W_q (one s_w
per output channel, zero-point 0):

    y = x Wᵀ + b ≈ s_x · s_w ⊙ [ x_q W_qᵀ - z_x · Σ_k W_q[:, k] ] + b
                          └── int32 accumulator ──┘  └ precomputed per channel ┘

The bracket is computed exactly in integers (|acc| < 2^31 for K < 2^17 at 8 bits), so the only rounding
is the final float rescale. The matmul runs on torch's CPU int8 GEMM (`torch._int_mm`) when it is there,
else on an int32 matmul, which gives the same integers more slowly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def int8_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a (M, K) int8 @ b (N, K)ᵀ int8 -> (M, N) int32, accumulated exactly in int32."""
    if a.dtype != torch.int8 or b.dtype != torch.int8:
        raise ValueError(f"int8_matmul needs int8 operands, got {a.dtype} and {b.dtype}")
    if hasattr(torch, "_int_mm"):
        try:
            return torch._int_mm(a.contiguous(), b.t())
        except RuntimeError:  # shapes this build's kernel does not take
            pass
    return a.to(torch.int32) @ b.to(torch.int32).t()


def to_int8_codes(q: torch.Tensor, zero_point: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 codes (0..255, zero z) as int8 codes (q - 128, zero z - 128): same real values, GEMM-ready."""
    if q.dtype == torch.uint8:
        return (q.to(torch.int16) - 128).to(torch.int8), zero_point.to(torch.int32) - 128
    return q, zero_point.to(torch.int32)


def quantized_linear(
    x_q: torch.Tensor,
    x_scale: torch.Tensor,
    x_zero: torch.Tensor,
    w_q: torch.Tensor,
    w_scale: torch.Tensor,
    bias: torch.Tensor | None = None,
    w_rowsum: torch.Tensor | None = None,
) -> torch.Tensor:
    """x_q (..., K) codes with per-tensor (s_x, z_x); w_q (N, K) int8, symmetric, w_scale (N, 1) or ().

    `w_rowsum` (N,) int32 = Σ_k w_q[:, k] can be precomputed once per weight (QuantLinear does)."""
    x8, zx = to_int8_codes(x_q, x_zero)
    lead = x8.shape[:-1]
    acc = int8_matmul(x8.reshape(-1, x8.shape[-1]), w_q)  # (M, N) int32
    rowsum = w_q.to(torch.int32).sum(dim=1, dtype=torch.int32) if w_rowsum is None else w_rowsum  # (N,)
    acc = acc - zx * rowsum  # zero-point correction
    y = acc.float() * (x_scale.float() * w_scale.float().reshape(-1))  # (M, N)
    if bias is not None:
        y = y + bias
    return y.reshape(*lead, w_q.shape[0])


def quantized_conv2d(
    x_q: torch.Tensor,
    x_scale: torch.Tensor,
    x_zero: torch.Tensor,
    w_q: torch.Tensor,
    w_scale: torch.Tensor,
    bias: torch.Tensor | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> torch.Tensor:
    """Convolution as im2col + int8 GEMM. x_q (B, C, H, W) codes, w_q (O, C, kh, kw) int8 codes.

    Padding must add real zeros, whose code is z_x (not 0), so codes are padded with z_x before unfolding.
    """
    x8, zx = to_int8_codes(x_q, x_zero)
    out_c, _, kh, kw = w_q.shape
    ph, pw = padding
    xf = F.pad(x8.float(), (pw, pw, ph, ph), value=float(zx))  # codes are small integers: exact in float
    cols = F.unfold(xf, (kh, kw), dilation=dilation, stride=stride)  # (B, C·kh·kw, L)
    b, ckk, length = cols.shape
    cols = cols.transpose(1, 2).reshape(b * length, ckk).to(torch.int8)  # (B·L, C·kh·kw)
    y = quantized_linear(cols, x_scale, zx, w_q.reshape(out_c, ckk), w_scale, bias)  # (B·L, O)
    h_out = (x_q.shape[2] + 2 * ph - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    w_out = (x_q.shape[3] + 2 * pw - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    return y.reshape(b, h_out, w_out, out_c).permute(0, 3, 1, 2)


def weight_only_int8_linear(
    x: torch.Tensor, w_q: torch.Tensor, w_scale: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """Float activations times int8 weights with per-channel scales (the LLM decode case).

    Uses torch's fused CPU kernel `_weight_int8pack_mm` (dequantizes inside the GEMM) for up to
    INT8PACK_MAX_ROWS rows, where reading the weight dominates; for larger batches that kernel is far
    slower than a float GEMM (measured in benchmarks/bench_quant_linear.py), so the weight is
    dequantized and multiplied in float32.
    """
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1]).float()
    scales = w_scale.float().reshape(-1)
    if weight_only_kernel(x2.shape[0], w_q.shape[0], scales.numel()) == "torch._weight_int8pack_mm":
        y = torch._weight_int8pack_mm(x2.contiguous(), w_q.contiguous(), scales)
    else:
        y = x2 @ (w_q.float() * w_scale.float().reshape(-1, 1)).t()
    if bias is not None:
        y = y + bias
    return y.reshape(*lead, w_q.shape[0])


INT8PACK_MAX_ROWS = 8


def weight_only_kernel(rows: int, out_features: int, n_scales: int) -> str:
    """Which path `weight_only_int8_linear` takes for `rows` activation rows."""
    fused = hasattr(torch, "_weight_int8pack_mm") and n_scales == out_features and rows <= INT8PACK_MAX_ROWS
    return "torch._weight_int8pack_mm" if fused else "dequantize + float32 matmul"
