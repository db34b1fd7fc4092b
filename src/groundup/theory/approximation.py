"""Universal approximation, constructively: what one hidden layer can do, and what depth buys.

Width. A one-hidden-layer ReLU network g(x) = c + sum_i a_i relu(x - b_i) is exactly a continuous
piecewise-linear function with breakpoints b_i: start with the slope of the first piece and add, at
each breakpoint, the change of slope. So the network that interpolates f at n + 1 equally spaced
points is written down directly (`interpolant_network`), and for a twice-differentiable f its sup
error is at most max|f''| h^2 / 8 with h = 1/n: error ~ 1/width^2 (the proof sketch of the theorem
for 1-D continuous f on an interval, by uniform continuity).

Depth (Telgarsky 2016). The tent map t(x) = 2 relu(x) - 4 relu(x - 1/2) on [0, 1] uses two units;
composing it k times gives a sawtooth with 2^(k-1) teeth, i.e. 2^k linear pieces, from a network of
depth k and width 2 (`tent_network`). A one-hidden-layer network with w units has at most w + 1
pieces, so it needs about 2^k units to follow the same sawtooth: depth is exponentially cheaper here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def interpolant_network(
    f: Callable[[torch.Tensor], torch.Tensor], width: int, lo: float = 0.0, hi: float = 1.0
) -> nn.Sequential:
    """A Linear(1, width) -> ReLU -> Linear(width, 1) network equal to the piecewise-linear interpolant
    of f at width + 1 equally spaced points of [lo, hi] (exactly, on that interval)."""
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    knots = torch.linspace(lo, hi, width + 1, dtype=torch.float64)
    values = f(knots)
    slopes = (values[1:] - values[:-1]) / (knots[1:] - knots[:-1])  # (width,)
    changes = torch.cat([slopes[:1], slopes[1:] - slopes[:-1]])  # slope added at each knot
    net = nn.Sequential(nn.Linear(1, width), nn.ReLU(), nn.Linear(width, 1)).double()
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[0].bias.copy_(-knots[:-1])  # unit i switches on at knot i
        net[2].weight.copy_(changes[None, :])
        net[2].bias.fill_(float(values[0]))
    return net


def tent_network(depth: int) -> nn.Sequential:
    """depth x [Linear(., 2) -> ReLU] -> Linear(2, 1): the tent map composed `depth` times on [0, 1]."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    layers: list[nn.Module] = []
    for i in range(depth):
        lin = nn.Linear(1 if i == 0 else 2, 2).double()
        with torch.no_grad():
            # hidden units (relu(u), relu(u - 1/2)) of u = t^{i}(x); the next layer's input is t(u)
            combine = torch.tensor([[1.0], [1.0]], dtype=torch.float64)
            if i > 0:
                combine = torch.tensor([[2.0, -4.0], [2.0, -4.0]], dtype=torch.float64)
            lin.weight.copy_(combine)
            lin.bias.copy_(torch.tensor([0.0, -0.5], dtype=torch.float64))
        layers += [lin, nn.ReLU()]
    out = nn.Linear(2, 1).double()
    with torch.no_grad():
        out.weight.copy_(torch.tensor([[2.0, -4.0]], dtype=torch.float64))
        out.bias.zero_()
    return nn.Sequential(*layers, out)


def sawtooth(x: torch.Tensor, depth: int) -> torch.Tensor:
    """The tent map composed `depth` times, computed directly: 2^(depth-1) teeth on [0, 1]."""
    for _ in range(depth):
        x = torch.where(x < 0.5, 2 * x, 2 - 2 * x)
    return x


def sup_error(net: nn.Module, f: Callable[[torch.Tensor], torch.Tensor], points: int = 20001) -> float:
    x = torch.linspace(0, 1, points, dtype=torch.float64)
    with torch.no_grad():
        return float((net(x[:, None])[:, 0] - f(x)).abs().max())
