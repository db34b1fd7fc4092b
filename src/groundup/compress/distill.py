"""Knowledge distillation (Hinton, Vinyals & Dean, 2015, arXiv:1503.02531).

The student matches the teacher's softened distribution as well as the labels:

    L = α · T² · KL( softmax(z_t / T) ‖ softmax(z_s / T) ) + (1 - α) · CE(z_s, y)

A temperature T > 1 exposes the teacher's "dark knowledge" (which wrong classes it finds plausible);
the T² factor keeps the soft-target gradients on the same scale as the hard-label ones as T changes.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    temperature: float = 4.0,
    alpha: float = 0.5,
) -> torch.Tensor:
    """α·T²·KL(teacher ‖ student) at temperature T (batch mean) + (1-α)·cross-entropy on the labels."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    log_p_student = F.log_softmax(student_logits / temperature, dim=-1)  # (B, C)
    log_p_teacher = F.log_softmax(teacher_logits.detach() / temperature, dim=-1)  # (B, C)
    kl = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(dim=-1).mean()
    return alpha * temperature**2 * kl + (1 - alpha) * F.cross_entropy(student_logits, labels)


def distill(
    teacher: nn.Module,
    student: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    temperature: float = 4.0,
    alpha: float = 0.5,
) -> float:
    """One pass of teacher→student training over `batches` of (inputs, labels); returns the mean loss."""
    teacher.eval()
    student.train()
    total, count = 0.0, 0
    for x, y in batches:
        with torch.no_grad():
            teacher_logits = teacher(x)
        loss = distillation_loss(student(x), teacher_logits, y, temperature, alpha)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total, count = total + loss.item(), count + 1
    if count == 0:
        raise ValueError("batches is empty: distillation needs at least one (inputs, labels) batch")
    return total / count
