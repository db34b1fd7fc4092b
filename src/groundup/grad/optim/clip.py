"""Gradient clipping: rescale all gradients together when their global norm is too large, or clamp each."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from groundup.grad.tensor import Tensor


def clip_grad_norm_(params: Iterable[Tensor], max_norm: float, norm_type: float = 2.0) -> float:
    """Scale every grad by max_norm / (total_norm + 1e-6) if that is < 1; return the total norm (torch)."""
    params = [p for p in params if p.grad is not None]
    grads = [p.grad for p in params]
    if not grads:
        return 0.0
    if norm_type == np.inf:
        total = max(float(np.abs(g).max()) for g in grads)
    else:
        total = float(sum(float((np.abs(g) ** norm_type).sum()) for g in grads) ** (1.0 / norm_type))
    coef = min(max_norm / (total + 1e-6), 1.0)
    for p in params:
        p.grad = p.grad * coef
    return total


def clip_grad_value_(params: Iterable[Tensor], clip_value: float) -> None:
    for p in params:
        if p.grad is not None:
            p.grad = np.clip(p.grad, -clip_value, clip_value)
