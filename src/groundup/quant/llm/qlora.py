"""QLoRA (Dettmers et al. 2023, arXiv:2305.14314): fine-tune low-rank adapters on top of a frozen NF4
base model.

    y = dequant(W_nf4) x + (α / r) · B A x          A (r, in) ~ Kaiming, B (out, r) = 0 at the start

The NF4 base is a buffer (never a Parameter), so gradients flow through dequant(W)·x to the input and
into A and B only; the frozen base costs 4.13 bits per weight in memory. With B = 0 the adapted model
starts exactly at the quantized model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from groundup.quant.llm.arch import decoder_blocks, set_module
from groundup.quant.llm.nf4 import NF4Linear


class QLoRALinear(nn.Module):
    """An NF4Linear plus a trainable rank-r update."""

    def __init__(self, base: NF4Linear, r: int = 8, alpha: float = 16.0):
        super().__init__()
        if r < 1:
            raise ValueError(f"r (LoRA rank) must be a positive integer, got {r}")
        self.base, self.r, self.scaling = base, r, alpha / r
        self.lora_a = nn.Parameter(torch.empty(r, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, r))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        update = F.linear(F.linear(x, self.lora_a), self.lora_b)  # (..., r) -> (..., out)
        return self.base(x) + self.scaling * update

    def extra_repr(self) -> str:
        return f"r={self.r}, scaling={self.scaling:g}"


def add_qlora(
    model: nn.Module, r: int = 8, alpha: float = 16.0, block_size: int = 64, train_blocks: int | None = None
) -> list[nn.Parameter]:
    """Quantize every block Linear to NF4+DQ and freeze everything; add adapters to the Linears of the
    last `train_blocks` blocks (all blocks when None). Returns the trainable A and B matrices.

    Adapting only the top blocks is a CPU budget choice: backpropagation then stops at the lowest
    adapted block instead of running through the whole model.
    """
    for p in model.parameters():
        p.requires_grad_(False)
    blocks = decoder_blocks(model)
    first_trained = 0 if train_blocks is None else max(len(blocks) - train_blocks, 0)
    for index, block in enumerate(blocks):
        for role, linear in block.linears().items():
            base = NF4Linear.from_linear(linear, block_size)
            module = QLoRALinear(base, r, alpha) if index >= first_trained else base
            set_module(model, block.paths[role], module)
    trainable = [p for name, p in model.named_parameters() if "lora_" in name]
    for p in trainable:
        p.requires_grad_(True)
    return trainable


def masked_lm_loss(model: nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy over positions where mask[t+1] is true (the response tokens)."""
    logits = model(ids[:, :-1])  # (B, T-1, vocab)
    targets = ids[:, 1:].masked_fill(~mask[:, 1:], -100)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)


def train_adapters(
    model: nn.Module,
    params: list[nn.Parameter],
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    lr: float = 1e-3,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """AdamW on the adapter parameters over (ids, response_mask) batches; returns the loss per step."""
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    losses = []
    model.train()
    for step, (ids, mask) in enumerate(batches):
        loss = masked_lm_loss(model, ids, mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if on_step:
            on_step(step, losses[-1])
    model.eval()
    return losses
