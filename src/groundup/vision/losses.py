"""Classification losses of the training laboratory (curriculum 0.6).

- soft-target cross-entropy: -sum_k q_k log p_k, for mixup/cutmix labels and label smoothing, where
  smoothing eps turns the one-hot target into (1 - eps) e_y + eps / K;
- focal loss (Lin et al. 2017), multi-class softmax form: -(1 - p_y)^gamma log p_y, which down-weights
  examples the model already gets right, so rare classes weigh more; gamma = 0 is cross-entropy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Mean of -sum_k q_k log softmax(logits)_k over the batch; targets (B, K) rows sum to 1."""
    if smoothing:
        targets = (1 - smoothing) * targets + smoothing / targets.shape[-1]
    return -(targets * F.log_softmax(logits, dim=-1)).sum(-1).mean()


def focal_loss(logits: torch.Tensor, y: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Mean of -(1 - p_y)^gamma log p_y: logits (B, K), labels y (B,)."""
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    log_p = F.log_softmax(logits, dim=-1).gather(1, y[:, None])[:, 0]  # (B,)
    return (-((1 - log_p.exp()) ** gamma) * log_p).mean()
