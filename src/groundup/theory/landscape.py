"""Loss-landscape slices (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets").

A network's loss lives in millions of dimensions; we look at it along one or two directions through
the trained weights theta: L(theta + a d1 + b d2). Random directions would mislead, because ReLU
networks are scale-invariant per filter (scaling a filter's weights up and the next layer's down
changes nothing), so a direction of fixed size is "large" for small filters and "small" for large
ones. Filter normalization rescales each filter of the random direction to the norm of the same
filter of theta, d_i <- d_i |theta_i| / |d_i|, which makes slices of different networks comparable;
biases and normalization parameters get a zero direction, as in the paper.

`interpolate` is the 1-D linear path between two solutions, (1 - a) theta_A + a theta_B (Goodfellow
et al. 2015): a barrier on the way says they sit in different basins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn


def filter_normalized_direction(
    model: nn.Module, generator: torch.Generator | None = None
) -> list[torch.Tensor]:
    """A random direction shaped like the parameters, each filter (row of dim 0) scaled to the norm of
    the matching filter of the weights; zero for 1-D parameters (biases, norm scales)."""
    direction = []
    for p in model.parameters():
        if p.dim() <= 1:
            direction.append(torch.zeros_like(p))
            continue
        d = torch.randn(p.shape, generator=generator, dtype=p.dtype)
        w_norm = p.detach().reshape(len(p), -1).norm(dim=1)  # (filters,)
        d_norm = d.reshape(len(d), -1).norm(dim=1)
        direction.append(d * (w_norm / (d_norm + 1e-10)).view(-1, *[1] * (p.dim() - 1)))
    return direction


@torch.no_grad()
def _set(model: nn.Module, values: Sequence[torch.Tensor]) -> None:
    for p, v in zip(model.parameters(), values, strict=True):
        p.copy_(v)


@torch.no_grad()
def slice_2d(
    model: nn.Module,
    loss_fn: Callable[[nn.Module], float],
    d1: Sequence[torch.Tensor],
    d2: Sequence[torch.Tensor] | None,
    alphas: Sequence[float],
    betas: Sequence[float] = (0.0,),
) -> torch.Tensor:
    """Loss at theta + a d1 + b d2 over the grid: (len(alphas), len(betas)); 1-D when d2 is None.
    The model's weights are restored afterwards."""
    theta = [p.detach().clone() for p in model.parameters()]
    d2 = d2 if d2 is not None else [torch.zeros_like(t) for t in theta]
    out = torch.zeros(len(alphas), len(betas), dtype=torch.float64)
    try:
        for i, a in enumerate(alphas):
            for j, b in enumerate(betas):
                _set(model, [t + a * u + b * v for t, u, v in zip(theta, d1, d2, strict=True)])
                out[i, j] = loss_fn(model)
    finally:
        _set(model, theta)
    return out


@torch.no_grad()
def interpolate(
    model: nn.Module,
    state_a: dict,
    state_b: dict,
    loss_fn: Callable[[nn.Module], float],
    alphas: Sequence[float],
) -> torch.Tensor:
    """Loss along (1 - a) A + a B of two state dicts (float entries interpolated, others from A): (len(alphas),).
    `model` is left holding state A."""
    losses = []
    for a in alphas:
        mixed = {k: (1 - a) * v + a * state_b[k] if v.is_floating_point() else v for k, v in state_a.items()}
        model.load_state_dict(mixed)
        losses.append(loss_fn(model))
    model.load_state_dict(state_a)
    return torch.tensor(losses, dtype=torch.float64)
