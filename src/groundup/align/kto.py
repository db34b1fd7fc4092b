"""KTO: learning from single responses labelled good or bad (Ethayarajh et al., 2024, arXiv:2402.01306).

Pairs are not needed: each response y is only marked desirable or undesirable. KTO scores the
implicit reward r = log π(y|x) − log π_ref(y|x) against a reference point z, the KL between policy
and reference (estimated on mismatched prompt/response pairs, detached, floored at 0), through a
prospect-theory value function:

    desirable:    L = λ_D · (1 − σ(β (r − z)))
    undesirable:  L = λ_U · (1 − σ(β (z − r)))

and the loss is the mean over the batch. A response gains only by beating the policy's current
drift from the reference, so the loss cannot be lowered by moving every log-prob together.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class KTOOutput(NamedTuple):
    loss: torch.Tensor  # scalar
    kl: torch.Tensor  # scalar reference point z (detached, ≥ 0)
    rewards: torch.Tensor  # (B,) β·(log π − log π_ref), detached


def kto_loss(
    policy_logps: torch.Tensor,
    ref_logps: torch.Tensor,
    desirable: torch.Tensor,
    kl_policy_logps: torch.Tensor,
    kl_ref_logps: torch.Tensor,
    beta: float = 0.1,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
) -> KTOOutput:
    """Sequence log-probs (B,) of the policy and the reference, `desirable` (B,) bool labels, and the
    log-probs (K,) of the mismatched pairs under both models (the KL estimate)."""
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    if desirable_weight < 0 or undesirable_weight < 0:
        raise ValueError("desirable_weight and undesirable_weight must be >= 0")
    z = (kl_policy_logps - kl_ref_logps).mean().detach().clamp(min=0)
    ratio = policy_logps - ref_logps  # (B,)
    good = desirable_weight * (1 - torch.sigmoid(beta * (ratio - z)))
    bad = undesirable_weight * (1 - torch.sigmoid(beta * (z - ratio)))
    losses = torch.where(desirable.bool(), good, bad)
    return KTOOutput(losses.mean(), z, beta * ratio.detach())


def mismatched(items: list) -> list:
    """Each prompt paired with the next example's response (cyclic): the pairs KTO estimates z on."""
    return items[1:] + items[:1]
