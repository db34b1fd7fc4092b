"""CLIP's contrastive objective (Radford et al., 2021, arXiv:2103.00020): a batch of N matching
(image, text) pairs is an N-way classification in both directions.

With L2-normalized embeddings u_i (images), v_j (texts) and a learned temperature τ = exp(-s),

    logits_ij = exp(s) · u_i · v_j                          (N, N), the diagonal holds the true pairs
    L = ½ [CE(logits, arange N) + CE(logitsᵀ, arange N)]    symmetric InfoNCE

s starts at log(1/0.07) and is clamped so exp(s) ≤ 100, as in the paper. Zero-shot classification
embeds one caption per class and picks the caption nearest to each image.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def contrastive_logits(
    image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """(N, D), (M, D), scalar s -> (N, M) scaled cosine similarities."""
    u, v = F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1)
    return logit_scale.exp() * u @ v.T


def clip_loss(logits: torch.Tensor) -> torch.Tensor:
    """Symmetric cross-entropy over the rows (image → text) and columns (text → image) of (N, N) logits."""
    target = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


class LogitScale(nn.Module):
    """The learned inverse temperature s (a scalar parameter), clamped to exp(s) ≤ max_scale."""

    def __init__(self, init_temperature: float = 0.07, max_scale: float = 100.0):
        super().__init__()
        if not 0 < init_temperature:
            raise ValueError(f"init_temperature must be > 0, got {init_temperature}")
        self.s = nn.Parameter(torch.tensor(math.log(1 / init_temperature)))
        self.max_log = math.log(max_scale)

    def forward(self) -> torch.Tensor:
        return self.s.clamp(max=self.max_log)


@torch.no_grad()
def zero_shot_predict(image_emb: torch.Tensor, class_text_emb: torch.Tensor) -> torch.Tensor:
    """(N, D) images, (C, D) one caption embedding per class -> (N,) the nearest class."""
    return (F.normalize(image_emb, dim=-1) @ F.normalize(class_text_emb, dim=-1).T).argmax(-1)
