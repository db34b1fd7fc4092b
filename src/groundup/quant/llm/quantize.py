"""One entry point for every method: `quantize_llm(model, method, bits, group_size, ...)`.

Checks the (method, bits, group size) combination up front (`methods.check_request`, the table of
what each method accepts), so a bad request fails before any calibration work, then dispatches to the
method's own file.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from groundup.quant.llm.methods import BITS, METHODS, NEEDS_CALIBRATION, check_request

__all__ = ["BITS", "METHODS", "NEEDS_CALIBRATION", "check_request", "quantize_llm"]


def quantize_llm(
    model: nn.Module,
    method: str,
    bits: int = 4,
    group_size: int | None = 128,
    *,
    windows: torch.Tensor | None = None,
    act_order: bool = False,
    alpha: float = 0.5,
    progress: Callable[[str], None] | None = None,
) -> nn.Module:
    """Quantize `model` in place with `method`; `windows` (n, T) calibration ids for GPTQ/AWQ/SmoothQuant."""
    group_size = check_request(method, bits, group_size)
    if method in NEEDS_CALIBRATION and windows is None:
        raise ValueError(f"{method} needs calibration windows (n_samples, seq_len) of token ids")
    if method == "rtn":
        from groundup.quant.llm.rtn import rtn_quantize_model

        return rtn_quantize_model(model, bits, group_size, progress=progress)
    if method == "gptq":
        from groundup.quant.llm.gptq import gptq_quantize_model

        return gptq_quantize_model(
            model, windows, bits, group_size, act_order=act_order, static_groups=act_order, progress=progress
        )
    if method == "awq":
        from groundup.quant.llm.awq import awq_quantize_model

        return awq_quantize_model(model, windows, bits, group_size, progress=progress)
    if method == "smoothquant":
        from groundup.quant.llm.smoothquant import smoothquant_model

        return smoothquant_model(model, windows, alpha)
    from groundup.quant.llm.nf4 import nf4_quantize_model

    return nf4_quantize_model(model, progress=progress)
