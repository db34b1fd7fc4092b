"""AdamW with two parameter groups: weight decay on matrices that mix features, none elsewhere.

Decay pulls weights towards zero. That regularises the Linear matrices, but on LayerNorm gains it
fights the scale the norm is there to learn, on biases it buys nothing, and on embeddings it shrinks
the rows of rare tokens that get few gradient updates. So those parameters go in a no-decay group.
"""

from __future__ import annotations

import torch
from torch import nn

NO_DECAY_MODULES = (nn.Embedding, nn.LayerNorm, nn.RMSNorm, nn.BatchNorm1d)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """[{"params": decayed, "weight_decay": wd}, {"params": the rest, "weight_decay": 0}].

    A tied weight (lm_head = token embedding) is one parameter; it counts as an embedding.
    """
    no_decay: set[int] = set()
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if isinstance(module, NO_DECAY_MODULES) or name.startswith("bias") or p.dim() < 2:
                no_decay.add(id(p))
    params = list(model.parameters())  # deduplicated: a tied weight appears once
    return [
        {"params": [p for p in params if id(p) not in no_decay], "weight_decay": weight_decay},
        {"params": [p for p in params if id(p) in no_decay], "weight_decay": 0.0},
    ]


def make_adamw(model: nn.Module, *, lr: float, weight_decay: float, betas: tuple[float, float]):
    """AdamW over `param_groups`, with torch's fused kernel: one pass per group updates the moments and
    the weights of every parameter (the same update as the per-tensor loop, without its ~20 kernel
    launches per tensor). It needs floating-point parameters on a device the kernel supports; the
    multi-tensor (foreach) update is the fallback."""
    params = list(model.parameters())
    fused = bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    return torch.optim.AdamW(
        param_groups(model, weight_decay),
        lr=lr,
        betas=betas,
        fused=fused or None,
        foreach=None if fused else True,
    )
