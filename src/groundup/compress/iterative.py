"""Iterative magnitude pruning with fine-tuning, and lottery-ticket rewinding.

Iterative pruning reaches a final sparsity S in n rounds, removing the same fraction of the surviving
weights each round, so that the network can recover in between:

    s_k = 1 - (1 - S)^(k / n),   k = 1..n          (cumulative sparsity after round k)

Lottery tickets (Frankle & Carbin, 2019, arXiv:1803.03635; rewinding to an early iterate instead of
the initialisation: Frankle et al., 2019, arXiv:1903.01611): train, prune, then *rewind* the surviving
weights to their values at initialisation (or iteration k) and train again with the mask fixed. The
claim under test is that the rewound sparse network trains to the dense accuracy.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from groundup.compress.prune import apply_masks, check_amount, magnitude_masks

# train_fn(model, masks) trains in place and keeps masked weights at zero (apply_masks after each step).
TrainFn = Callable[[nn.Module, dict[str, torch.Tensor]], None]


def sparsity_schedule(final: float, rounds: int) -> list[float]:
    """Cumulative sparsity after each of `rounds` rounds, ending exactly at `final`."""
    check_amount(final)
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    return [1 - (1 - final) ** (k / rounds) for k in range(1, rounds + 1)]


def iterative_prune(
    model: nn.Module, final: float, rounds: int, finetune: TrainFn, scope: str = "global"
) -> dict[str, torch.Tensor]:
    """Prune to `final` sparsity in `rounds` steps with fine-tuning after each; returns the final masks."""
    masks: dict[str, torch.Tensor] = {}
    for amount in sparsity_schedule(final, rounds):
        masks = magnitude_masks(model, amount, scope)  # zeros already pruned rank smallest: masks only grow
        apply_masks(model, masks)
        finetune(model, masks)
    return masks


def lottery_ticket(
    model: nn.Module,
    train: TrainFn,
    final: float,
    rounds: int = 1,
    rewind_state: dict[str, torch.Tensor] | None = None,
    scope: str = "global",
) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    """Find a winning ticket: train, prune, rewind survivors to `rewind_state` (default: the weights
    `model` has now, i.e. its initialisation), repeat for `rounds`; the returned model is the rewound
    sparse network, trained once more with its mask."""
    rewind_state = copy.deepcopy(rewind_state or model.state_dict())
    masks: dict[str, torch.Tensor] = {}
    for amount in sparsity_schedule(final, rounds):
        train(model, masks)
        masks = magnitude_masks(model, amount, scope)
        model.load_state_dict(rewind_state)
        apply_masks(model, masks)
    train(model, masks)
    return model, masks
