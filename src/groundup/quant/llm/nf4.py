"""NF4 weight storage for a whole LLM (QLoRA's base format): every block Linear becomes 4-bit NormalFloat
codes in blocks of 64 with (optionally double-quantized) absmax constants, dequantized at each forward.

The number format itself (levels, blockwise absmax, double quantization) lives in `groundup.quant.nf4`;
this file applies it to a model. Bits per weight: 4 + 32/64 = 4.5 with float32 constants, and
4 + 8/64 + 32/(64·256) ≈ 4.127 with double quantization.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from groundup.quant.llm.arch import decoder_blocks, set_module
from groundup.quant.nf4 import NF4Tensor, quantize_nf4


class NF4Linear(nn.Module):
    """A frozen Linear stored as NF4; the float weight exists only transiently inside forward."""

    def __init__(self, nf4: NF4Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        self.out_features, self.in_features = nf4.shape
        self.nf4 = nf4
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(), requires_grad=False)

    @classmethod
    def from_linear(cls, linear: nn.Linear, block_size: int = 64, double_quant: bool = True) -> NF4Linear:
        if linear.weight.numel() % block_size:
            raise ValueError(
                f"nf4: block_size {block_size} must divide the weight's {linear.weight.numel()} values"
            )
        return cls(quantize_nf4(linear.weight.detach(), block_size, double_quant=double_quant), linear.bias)

    def dequantized_weight(self) -> torch.Tensor:
        return self.nf4.dequantize()  # (out, in) float32

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.dequantized_weight().to(x.dtype), self.bias)

    def nbytes(self) -> int:
        return self.nf4.nbytes()

    def extra_repr(self) -> str:
        dq = "+DQ" if self.nf4.double is not None else ""
        return f"in={self.in_features}, out={self.out_features}, NF4{dq} block={self.nf4.block_size}"


def nf4_quantize_model(
    model: nn.Module,
    block_size: int = 64,
    double_quant: bool = True,
    progress: Callable[[str], None] | None = None,
) -> nn.Module:
    """Replace every block Linear by an NF4Linear (in place); `progress` hears one line per block."""
    blocks = decoder_blocks(model)
    for index, block in enumerate(blocks):
        for role, linear in block.linears().items():
            set_module(model, block.paths[role], NF4Linear.from_linear(linear, block_size, double_quant))
        if progress:
            progress(f"nf4: block {index + 1}/{len(blocks)} quantized")
    return model
