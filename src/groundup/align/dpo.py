"""Direct preference optimization (Rafailov et al., 2023, arXiv:2305.18290) and IPO (Azar et al.,
2023, arXiv:2310.12036): learn from preference pairs without a reward model or sampling.

DPO's insight: the KL-regularized RL optimum π* ∝ π_ref · exp(r/β) lets the reward be written through
the policy itself, r(x, y) = β log π(y|x)/π_ref(y|x) + const. Put into Bradley–Terry, the constant
cancels and the policy is trained directly:

    h   = [log π(y_w) − log π_ref(y_w)] − [log π(y_l) − log π_ref(y_l)]
    DPO = − log σ(β h)                       "sigmoid"
    IPO = (h̄ − 1 / (2β))²                    "ipo": h̄ uses per-token mean log-ratios, as TRL does
    hinge = max(0, 1 − β h)                  "hinge" (SLiC)

The implicit rewards β·log π/π_ref of the chosen and rejected responses, their margin and the
fraction of pairs with a positive margin (preference accuracy) are what a run reports.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

DPO_LOSSES = ("sigmoid", "ipo", "hinge")


class DPOOutput(NamedTuple):
    loss: torch.Tensor  # scalar, mean over pairs
    chosen_rewards: torch.Tensor  # (B,) β·(log π − log π_ref), detached
    rejected_rewards: torch.Tensor  # (B,)


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    chosen_tokens: torch.Tensor | None = None,
    rejected_tokens: torch.Tensor | None = None,
) -> DPOOutput:
    """The preference loss from sequence log-probs (B,) of the policy and the reference.

    `chosen_tokens`/`rejected_tokens` (B,) count response tokens; IPO needs them to average per token."""
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    if loss_type not in DPO_LOSSES:
        raise ValueError(f"loss_type must be one of {DPO_LOSSES}, got {loss_type!r}")
    chosen_ratio = policy_chosen - ref_chosen  # (B,)
    rejected_ratio = policy_rejected - ref_rejected
    if loss_type == "sigmoid":
        losses = -F.logsigmoid(beta * (chosen_ratio - rejected_ratio))
    elif loss_type == "hinge":
        losses = torch.relu(1 - beta * (chosen_ratio - rejected_ratio))
    else:
        if chosen_tokens is None or rejected_tokens is None:
            raise ValueError("loss_type='ipo' needs chosen_tokens and rejected_tokens (response lengths)")
        h = chosen_ratio / chosen_tokens.clamp(min=1) - rejected_ratio / rejected_tokens.clamp(min=1)
        losses = (h - 1 / (2 * beta)) ** 2
    return DPOOutput(losses.mean(), beta * chosen_ratio.detach(), beta * rejected_ratio.detach())
