"""Weight-only int4 matmul: y = x Wᵀ with W stored as 4-bit codes in groups of 32.

    W[n, 32g + j] = scale[n, g] · q[n, 32g + j] + min[n, g]          q ∈ [0, 15]

This is ggml's Q4_1 block split into three arrays (Q4_0 is the same with min = -8 · scale): `codes`
(N, K/2) uint8, where group g of row n is bytes 16g..16g+15 and byte j holds q[32g + j] in its low
nibble and q[32g + j + 16] in its high nibble (ggml's order); `scale` and `min` (N, K/32) float16.

Three ways to multiply, picked per call by `int4_matmul(..., kernel=)`:

    "native"     our fused dequantize-and-dot kernel (`csrc/qmatmul.c`): float32 activations, each
                 weight rebuilt exactly and never written to memory (from 2 rows of x on, each block
                 of 4 weight rows is decoded once into an L1 panel that all rows reuse); decode and a
                 serving step's batch (up to `models.quantized.FUSED_MAX_ROWS` rows)
    "torch"      PyTorch's `_weight_int4pack_mm_for_cpu`, which needs its own packing and bfloat16
                 activations (with float32 activations it is ~20x slower): the fallback when our
                 kernel cannot be built. It computes w = (q - 8) · s + z with s, z in bfloat16, so
                 it is not exact: |Δw| up to ~2^-8 relative to the group's range
    "reference"  dequantize to float32, then one float32 matmul: the float reference every path is
                 tested against, and the fastest way to run many rows (prefill, > 64 rows)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from groundup.kernels import native

GROUP = 32
KERNELS = ("native", "dot8", "torch", "reference")


def unpack(codes: torch.Tensor) -> torch.Tensor:
    """codes (N, K/2) uint8 -> q (N, K) uint8 in weight order."""
    n = codes.shape[0]
    groups = codes.reshape(n, -1, GROUP // 2)  # (N, G, 16)
    return torch.cat([groups & 0x0F, groups >> 4], dim=-1).reshape(n, -1)  # (N, G, 32) -> (N, K)


def pack(q: torch.Tensor) -> torch.Tensor:
    """q (N, K) with values in [0, 15] -> codes (N, K/2) uint8 (the inverse of `unpack`)."""
    n = q.shape[0]
    groups = q.to(torch.uint8).reshape(n, -1, 2, GROUP // 2)  # (N, G, low/high, 16)
    return (groups[:, :, 0] | (groups[:, :, 1] << 4)).reshape(n, -1)


def dequantize(codes: torch.Tensor, scale: torch.Tensor, min: torch.Tensor) -> torch.Tensor:
    """W (N, K) float32: s · q + m per group, the same float32 operations as ggml's Q4_1 decoder."""
    n = codes.shape[0]
    q = unpack(codes).reshape(n, -1, GROUP).float()  # (N, G, 32)
    return (q * scale.float()[..., None] + min.float()[..., None]).reshape(n, -1)


def matmul_reference(x: torch.Tensor, codes, scale, min) -> torch.Tensor:
    """x (..., K) @ Wᵀ -> (..., N), through the dequantized float32 weight."""
    return F.linear(x.float(), dequantize(codes, scale, min))


def torch_supports(n: int) -> bool:
    """PyTorch's int4 packing needs the output width N to be a multiple of 16."""
    return n % 16 == 0


def torch_pack(codes: torch.Tensor, scale: torch.Tensor, min: torch.Tensor):
    """(packed weight, scales_and_zeros (K/32, N, 2) bfloat16) for `_weight_int4pack_mm_for_cpu`,
    whose decoder is w = (q - 8) · s + z, so z = m + 8 · s."""
    packed = torch._convert_weight_to_int4pack_for_cpu(unpack(codes).to(torch.int32), 1)
    s, m = scale.float(), min.float()
    scales_and_zeros = torch.stack([s, m + 8 * s], dim=-1).transpose(0, 1).contiguous()  # (G, N, 2)
    return packed, scales_and_zeros.to(torch.bfloat16)


def matmul_torch(x: torch.Tensor, packed: torch.Tensor, scales_and_zeros: torch.Tensor) -> torch.Tensor:
    """x (..., K) @ Wᵀ through PyTorch's int4 CPU kernel, in bfloat16 -> (..., N) in x's dtype."""
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1]).to(torch.bfloat16)
    y = torch._weight_int4pack_mm_for_cpu(x2, packed, GROUP, scales_and_zeros)  # (M, N)
    return y.to(x.dtype).reshape(*lead, y.shape[-1])


def matmul_native(x: torch.Tensor, codes, scale, min) -> torch.Tensor:
    """x (..., K) @ Wᵀ through our compiled kernel, float32 -> (..., N) float32."""
    lead = x.shape[:-1]
    y = native.q4_matmul(x.reshape(-1, x.shape[-1]).float().contiguous(), codes, scale, min)
    return y.reshape(*lead, y.shape[-1])
