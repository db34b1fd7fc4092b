"""A reward model: the language model with its vocabulary head replaced by one scalar output,
trained on preference pairs with the Bradley–Terry loss (Ouyang et al., 2022, arXiv:2203.02155).

Bradley–Terry models the probability that response y_w is preferred to y_l as σ(r(x, y_w) − r(x, y_l)),
so maximum likelihood gives

    L = − mean log σ(r_w − r_l − m)        (m: an optional per-pair margin, 0 by default)

The scalar is read at the last real token of each row (after the end-of-turn token), where the
causal model has seen the whole prompt and response. Only differences of rewards are identified.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from groundup.align.batch import Batch


class RewardModel(nn.Module):
    """Wraps a CausalLM whose forward ends in `self.lm_head(norm(x))` (Llama, GPT): the head becomes
    nn.Linear(d, 1), so the backbone's forward returns one score per position."""

    def __init__(self, model: nn.Module, seed: int = 0) -> None:
        super().__init__()
        head = getattr(model, "lm_head", None)
        if not isinstance(head, nn.Linear):
            raise ValueError(f"model must have an nn.Linear lm_head to replace, found {type(head).__name__}")
        score = nn.Linear(head.in_features, 1, bias=False, dtype=head.weight.dtype)
        with torch.no_grad():
            g = torch.Generator().manual_seed(seed)
            score.weight.normal_(0.0, 1.0 / (head.in_features + 1) ** 0.5, generator=g)
        model.lm_head = score  # a tied embedding stays with model.embed
        self.model = model

    @property
    def score(self) -> nn.Linear:
        return self.model.lm_head

    def forward(self, batch: Batch) -> torch.Tensor:
        """(B,) reward of each row, read at its last real token."""
        scores = self.model(batch.input_ids)[..., 0]  # (B, T)
        return scores.gather(1, (batch.lengths - 1).unsqueeze(1)).squeeze(1).float()


def bradley_terry_loss(
    chosen: torch.Tensor, rejected: torch.Tensor, margin: torch.Tensor | None = None
) -> torch.Tensor:
    """− mean log σ(r_chosen − r_rejected − margin) over pairs; chosen, rejected (B,)."""
    diff = chosen - rejected
    if margin is not None:
        diff = diff - margin
    return -F.logsigmoid(diff).mean()


@torch.no_grad()
def pair_accuracy(chosen: torch.Tensor, rejected: torch.Tensor) -> float:
    """Fraction of pairs where the chosen response scores strictly higher."""
    return (chosen > rejected).float().mean().item()
