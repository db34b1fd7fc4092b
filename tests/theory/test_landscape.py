"""Filter-normalized directions and loss slices."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from groundup.theory.landscape import filter_normalized_direction, interpolate, slice_2d

pytestmark = pytest.mark.module("0.9")


def setup():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3)).double()
    x, y = torch.randn(16, 1, 6, 6, dtype=torch.float64), torch.randint(0, 3, (16,))
    return net, lambda m: nn.functional.cross_entropy(m(x), y).item()


def test_each_filter_of_the_direction_has_the_weights_norm():
    net, _ = setup()
    d = filter_normalized_direction(net, torch.Generator().manual_seed(0))
    for p, u in zip(net.parameters(), d, strict=True):
        if p.dim() > 1:
            torch.testing.assert_close(u.flatten(1).norm(dim=1), p.detach().flatten(1).norm(dim=1))
        else:
            assert torch.all(u == 0)


def test_slice_is_the_loss_at_the_shifted_weights_and_restores_them():
    net, loss = setup()
    before = [p.clone() for p in net.parameters()]
    g = torch.Generator().manual_seed(1)
    d1, d2 = filter_normalized_direction(net, g), filter_normalized_direction(net, g)
    grid = slice_2d(net, loss, d1, d2, [-0.5, 0.0, 0.5], [0.0, 0.25])
    assert grid[1, 0] == pytest.approx(loss(net))
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    with torch.no_grad():
        for p, u, v in zip(net.parameters(), d1, d2, strict=True):
            p.add_(0.5 * u + 0.25 * v)
    assert grid[2, 1] == pytest.approx(loss(net))


def test_interpolation_ends_at_both_solutions():
    net, loss = setup()
    a = {k: v.clone() for k, v in net.state_dict().items()}
    b = {k: v + 0.1 for k, v in a.items()}
    path = interpolate(net, a, b, loss, [0.0, 0.5, 1.0])
    la = loss(net)
    net.load_state_dict(b)
    assert path[0] == pytest.approx(la) and path[2] == pytest.approx(loss(net))
