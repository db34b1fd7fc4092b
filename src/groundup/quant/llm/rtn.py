"""Round-to-nearest (RTN): the baseline every smarter LLM quantizer is measured against.

Each weight row (per-channel) or each run of `group_size` input columns of a row (group-wise) gets its
own min/max scale and zero-point, and every weight is rounded independently to the nearest code:

    s = (max(w) - min(w)) / (2^b - 1),   z = round(-min(w) / s),   q = clamp(round(w / s) + z, 0, 2^b - 1)

Smaller groups track local outliers better at the cost of more scales (g = 128 adds 24 bits per 128
weights: 0.19 bits per weight).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from groundup.quant.llm.arch import decoder_blocks, set_module
from groundup.quant.llm.qweight import (
    QuantizedWeight,
    WeightOnlyLinear,
    check_weight_spec,
    default_g_idx,
    group_params,
    quantize_codes,
)


def rtn_quantize(
    weight: torch.Tensor,
    bits: int,
    group_size: int | None = None,
    *,
    sym: bool = False,
    clip: torch.Tensor | float = 1.0,
) -> QuantizedWeight:
    """Quantize a Linear weight (out, in). `clip` (scalar or (out, n_groups)) shrinks each group's range.

    When `group_size` does not divide `in` the last group is shorter (SmolLM2's 576 = 4·128 + 64), as
    in AutoGPTQ's g_idx = j // group_size.
    """
    check_weight_spec(bits, group_size, method="rtn", allowed_bits=(2, 3, 4, 8))
    out_f, in_f = weight.shape
    g = group_size or in_f
    n_groups = -(-in_f // g)
    w = weight.detach().float()
    clip = torch.as_tensor(clip, dtype=torch.float32)
    codes = torch.empty(out_f, in_f, dtype=torch.uint8)
    scale, zero = torch.empty(out_f, n_groups), torch.empty(out_f, n_groups, dtype=torch.int32)
    for k in range(n_groups):
        cols = slice(k * g, (k + 1) * g)
        s, z = group_params(
            w[:, cols], bits, sym=sym, clip=clip[:, k : k + 1] if clip.dim() else clip
        )  # (out, 1)
        codes[:, cols] = quantize_codes(w[:, cols], s, z, bits)
        scale[:, k], zero[:, k] = s[:, 0], z[:, 0]
    return QuantizedWeight(codes, scale, zero, default_g_idx(in_f, group_size), bits, group_size)


def rtn_quantize_model(
    model: nn.Module, bits: int, group_size: int | None = 128, progress: Callable[[str], None] | None = None
) -> nn.Module:
    """Replace the seven Linears of every decoder block by RTN WeightOnlyLinears (in place);
    `progress` hears one line per block, as GPTQ's and AWQ's do."""
    blocks = decoder_blocks(model)
    for index, block in enumerate(blocks):
        for role, linear in block.linears().items():
            check_weight_spec(bits, group_size, method="rtn")
            set_module(
                model,
                block.paths[role],
                WeightOnlyLinear(rtn_quantize(linear.weight, bits, group_size), linear.bias),
            )
        if progress:
            progress(f"rtn: block {index + 1}/{len(blocks)} quantized")
    return model
