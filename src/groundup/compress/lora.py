"""LoRA: low-rank adapters on frozen linear layers (Hu et al., 2021, arXiv:2106.09685).

A frozen weight W (d_out, d_in) is adapted by a rank-r product, trained instead of W:

    y = x Wᵀ + b + (α / r) · (x Aᵀ) Bᵀ          A (r, d_in) ~ Kaiming-uniform,  B (d_out, r) = 0

so training starts exactly at the base model and updates r·(d_in + d_out) numbers instead of
d_in·d_out. Merging folds the update into the weight for free inference, W' = W + (α/r)·B A;
unmerging restores the original W bit for bit (we keep it aside while merged, since float
subtraction would not undo the addition exactly). The computation order matches PEFT's LoRA
Linear, so outputs agree with it exactly on the same weights.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class LoRALinear(nn.Module):
    """Wraps an nn.Linear: frozen base plus trainable `lora_A`, `lora_B` with scaling α/r."""

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0) -> None:
        super().__init__()
        if not isinstance(r, int) or r < 1:
            raise ValueError(f"r must be a positive integer rank, got {r!r}")
        self.base = base
        self.r, self.alpha, self.scaling = r, alpha, alpha / r
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, dtype=base.weight.dtype))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, dtype=base.weight.dtype))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # nn.Linear's default init, as PEFT uses
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False
        self._unmerged_weight: torch.Tensor | None = None
        for p in self.base.parameters():
            p.requires_grad_(False)

    def delta_weight(self) -> torch.Tensor:
        """(α/r)·B A, shape (d_out, d_in): the update LoRA adds to W."""
        return (self.lora_B @ self.lora_A) * self.scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., d_in) -> (..., d_out)
        y = self.base(x)
        if self.merged:
            return y
        return y + F.linear(F.linear(self.dropout(x), self.lora_A), self.lora_B) * self.scaling

    @torch.no_grad()
    def merge(self) -> None:
        if not self.merged:
            self._unmerged_weight = self.base.weight.detach().clone()
            self.base.weight += self.delta_weight()
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        if self.merged:
            self.base.weight.copy_(self._unmerged_weight)
            self._unmerged_weight = None
            self.merged = False


def apply_lora(
    model: nn.Module, target_modules: Iterable[str], r: int = 8, alpha: float = 16.0, dropout: float = 0.0
) -> nn.Module:
    """Wrap every nn.Linear whose name ends with one of `target_modules` in place, and freeze all other
    parameters, so only the adapters train. Returns the model."""
    targets = tuple(target_modules)
    found = 0
    for p in model.parameters():
        p.requires_grad_(False)
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if isinstance(child, nn.Linear) and any(full == t or full.endswith("." + t) for t in targets):
                setattr(module, child_name, LoRALinear(child, r, alpha, dropout))
                found += 1
    if not found:
        raise ValueError(
            f"target_modules {targets} matched no nn.Linear; names are e.g. {names_of_linears(model)[:5]}"
        )
    return model


def names_of_linears(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]


def lora_layers(model: nn.Module) -> list[LoRALinear]:
    return [m for m in model.modules() if isinstance(m, LoRALinear)]


def merge_lora(model: nn.Module) -> nn.Module:
    for layer in lora_layers(model):
        layer.merge()
    return model


def unmerge_lora(model: nn.Module) -> nn.Module:
    for layer in lora_layers(model):
        layer.unmerge()
    return model


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the adapter tensors (names ending in lora_A / lora_B): what a fine-tune needs to ship."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if k.endswith(("lora_A", "lora_B"))}


def save_adapters(model: nn.Module, path: str | Path) -> Path:
    """Write the adapters alone to a safetensors file (the base weights are not repeated)."""
    from safetensors.torch import save_file

    path = Path(path)
    save_file({k: v.contiguous() for k, v in lora_state_dict(model).items()}, str(path))
    return path


def load_adapters(model: nn.Module, path: str | Path) -> nn.Module:
    """Load adapters saved by `save_adapters` into a model with the same LoRA layers."""
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    expected = set(lora_state_dict(model))
    if set(tensors) != expected:
        missing, extra = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
        raise ValueError(
            f"adapter file does not fit this model: missing {missing[:3]}, unexpected {extra[:3]}"
        )
    model.load_state_dict(tensors, strict=False)
    return model
