"""One entry point for every method: `quantize_llm(model, method, bits, group_size, ...)`.

Checks the (method, bits, group size) combination up front, so a bad request fails before any
calibration work, then dispatches to the method's own file.

    method       bits      group_size           calibration
    rtn          3, 4, 8   None/32/64/128 (128) no
    gptq         2,3,4,8   None/32/64/128 (128) yes (Hessians, sequential)
    awq          3, 4      None/32/64/128 (128) yes (activation magnitudes)
    smoothquant  8 (W8A8)  per-channel only     yes (activation maxima)
    nf4          4         blocks of 64         no
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from groundup.quant.llm.qweight import GROUP_SIZES

METHODS = ("rtn", "gptq", "awq", "smoothquant", "nf4")
BITS = {"rtn": (3, 4, 8), "gptq": (2, 3, 4, 8), "awq": (3, 4), "smoothquant": (8,), "nf4": (4,)}
NEEDS_CALIBRATION = ("gptq", "awq", "smoothquant")


def check_request(method: str, bits: int, group_size: int | None) -> int | None:
    """Validate the combination; returns the group size to use (method default when None is given)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if bits not in BITS[method]:
        raise ValueError(f"{method}: bits must be one of {BITS[method]}, got {bits}")
    if method in ("smoothquant", "nf4"):
        if group_size is not None:
            raise ValueError(
                f"{method}: group_size is fixed ({'per-channel' if method == 'smoothquant' else 'blocks of 64'}); "
                f"leave it unset, got {group_size}"
            )
        return None
    if group_size not in GROUP_SIZES:
        raise ValueError(
            f"{method}: group_size must be one of 32, 64, 128 or 0 for per-channel, got {group_size}"
        )
    return group_size


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

        return rtn_quantize_model(model, bits, group_size)
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

    return nf4_quantize_model(model)
