"""Weight-only int8 matmul: y = x Wᵀ with W stored as 8-bit codes in groups of 32.

    W[n, 32g + j] = scale[n, g] · q[n, 32g + j] (+ min[n, g])        q ∈ [-128, 127]

This is ggml's Q8_0 block split into arrays: `codes` (N, K) int8 and `scale` (N, K/32) float16; the
optional `min` (N, K/32) float16 lets 4-bit formats with a minimum (Q4_1) widen to int8 exactly.

    "native"     our fused dequantize-and-dot kernel (`csrc/qmatmul.c`), float32 activations; decode
                 and batched decode (see `int4`)
    "dot8"       the same with x rounded to int8 per group of 32 and integer dots (llama.cpp's way)
    "reference"  dequantize to float32, then one float32 matmul (the float reference; prefill)

PyTorch's own int8 CPU kernel, `_weight_int8pack_mm`, takes one scale per output row, not per group
of 32, so it cannot run a Q8_0 weight exactly; `channelwise` and `matmul_torch` below run it on a
per-row requantization of W, for the kernel benchmark. Like the int4 one, it is fast only with
bfloat16 activations (measured ~57 µs for a 576x1536 GEMV, ~945 µs with float32 activations).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from groundup.kernels import native

GROUP = 32
KERNELS = ("native", "dot8", "reference")


def dequantize(codes: torch.Tensor, scale: torch.Tensor, min: torch.Tensor | None = None) -> torch.Tensor:
    """W (N, K) float32: q · s (+ m) per group, the same float32 operations as ggml's Q8_0 decoder."""
    n = codes.shape[0]
    w = codes.reshape(n, -1, GROUP).float() * scale.float()[..., None]  # (N, G, 32)
    if min is not None:
        w = w + min.float()[..., None]
    return w.reshape(n, -1)


def matmul_reference(x: torch.Tensor, codes, scale, min=None) -> torch.Tensor:
    """x (..., K) @ Wᵀ -> (..., N), through the dequantized float32 weight."""
    return F.linear(x.float(), dequantize(codes, scale, min))


def matmul_native(x: torch.Tensor, codes, scale, min=None) -> torch.Tensor:
    """x (..., K) @ Wᵀ through our compiled kernel, float32 -> (..., N) float32."""
    lead = x.shape[:-1]
    y = native.q8_matmul(x.reshape(-1, x.shape[-1]).float().contiguous(), codes, scale, min)
    return y.reshape(*lead, y.shape[-1])


def channelwise(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row int8 (RTN): W (N, K) float -> (codes (N, K) int8, scales (N,) float32)."""
    scales = w.abs().amax(dim=1).clamp(min=1e-12) / 127  # (N,)
    codes = torch.round(w / scales[:, None]).clamp(-127, 127).to(torch.int8)
    return codes, scales.float()


def matmul_torch(x: torch.Tensor, codes: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """x (..., K) @ (codes · scales)ᵀ through PyTorch's int8 CPU kernel, in bfloat16 -> x's dtype."""
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1]).to(torch.bfloat16)
    y = torch._weight_int8pack_mm(x2, codes, scales.to(torch.bfloat16))  # (M, N)
    return y.to(x.dtype).reshape(*lead, y.shape[-1])
