"""Magnitude pruning: zero the weights with the smallest |w|, per layer or across the whole model.

    per layer: each tensor loses round(amount · n) of its smallest-magnitude entries
    global:    one threshold over all tensors together, so layers with many small weights lose more

A pruning result is a dict of 0/1 masks keyed by parameter name. `apply_masks` multiplies them in;
during fine-tuning call it after every optimizer step so pruned weights stay at zero. The masks are
the ones torch.nn.utils.prune computes (L1 importance, k = round(amount · n) smallest), which the
tests check.
"""

from __future__ import annotations

import torch
from torch import nn

SCOPES = ("layer", "global")


def check_amount(amount: float) -> float:
    if not 0.0 <= amount < 1.0:
        raise ValueError(f"amount must be a fraction in [0, 1), got {amount!r}")
    return amount


def prunable_weights(model: nn.Module) -> dict[str, nn.Parameter]:
    """The weight tensors pruning applies to: those of Linear and Conv layers (biases and norms stay)."""
    return {
        f"{name}.weight" if name else "weight": m.weight
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d)
    }


def smallest_mask(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Mask with zeros at the k smallest scores (flattened), ones elsewhere; same shape as `scores`."""
    mask = torch.ones(scores.numel(), dtype=scores.dtype)
    if k > 0:
        mask[torch.topk(scores.reshape(-1), k, largest=False).indices] = 0
    return mask.reshape(scores.shape)


def magnitude_masks(
    model: nn.Module, amount: float, scope: str = "layer", weights: dict[str, torch.Tensor] | None = None
) -> dict[str, torch.Tensor]:
    """Masks that remove a fraction `amount` of the weights by magnitude, per layer or globally.

    Already-zero weights count as the smallest, so pruning again at a higher amount extends the masks.
    """
    check_amount(amount)
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    weights = weights if weights is not None else prunable_weights(model)
    if scope == "layer":
        return {n: smallest_mask(w.detach().abs(), round(amount * w.numel())) for n, w in weights.items()}
    flat = torch.cat([w.detach().abs().reshape(-1) for w in weights.values()])  # (total,)
    mask = smallest_mask(flat, round(amount * flat.numel()))
    masks, start = {}, 0
    for name, w in weights.items():
        masks[name] = mask[start : start + w.numel()].reshape(w.shape)
        start += w.numel()
    return masks


@torch.no_grad()
def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> nn.Module:
    """Zero the pruned weights in place (call after each optimizer step while fine-tuning)."""
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        params[name].mul_(mask.to(params[name].dtype))
    return model


def sparsity(model: nn.Module, weights: dict[str, torch.Tensor] | None = None) -> float:
    """Fraction of exactly-zero entries among the prunable weights."""
    weights = weights if weights is not None else prunable_weights(model)
    total = sum(w.numel() for w in weights.values())
    zeros = sum(int((w == 0).sum()) for w in weights.values())
    return zeros / total
