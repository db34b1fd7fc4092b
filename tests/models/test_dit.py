"""The tiny DiT: patches in and out, adaLN-Zero's identity start, and it learns to denoise digits."""

import pytest
import torch

from groundup.models.diffusion import NoiseSchedule, diffusion_loss
from groundup.models.dit import DiT, DiTConfig, positions_2d

pytestmark = pytest.mark.module("3.6")


def test_patchify_round_trips_and_keeps_patches_together():
    net = DiT(DiTConfig(image_size=8, patch=2, dim=32, n_layers=1, n_heads=2))
    x = torch.arange(2 * 64, dtype=torch.float32).view(2, 1, 8, 8)
    tokens = net.patchify(x)  # (2, 16, 4)
    assert tokens.shape == (2, 16, 4)
    assert tokens[0, 1].tolist() == [2.0, 3.0, 10.0, 11.0]  # the second patch of the first row
    torch.testing.assert_close(net.unpatchify(tokens), x)
    assert positions_2d(4, 32).shape == (16, 32)
    assert len({tuple(r.tolist()) for r in positions_2d(4, 32)}) == 16  # every patch position distinct


def test_adaln_zero_starts_as_the_identity_and_conditioning_matters_after_training():
    torch.manual_seed(0)
    net = DiT(DiTConfig(image_size=8, patch=2, dim=32, n_layers=2, n_heads=2))
    x, t = torch.randn(4, 1, 8, 8), torch.tensor([1, 10, 100, 999])
    assert net(x, t, torch.tensor([0, 1, 2, 10])).abs().max() == 0  # zero-initialized output and gates
    schedule = NoiseSchedule(1000, "cosine")
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(0)
    data = torch.randn(64, 1, 8, 8).clamp(-1, 1)
    labels = torch.randint(0, 10, (64,), generator=g)
    losses = []
    for _ in range(40):
        loss = diffusion_loss(net, schedule, data, labels, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.9 * sum(losses[:5]) / 5
    out_a, out_b = net(x, t, torch.zeros(4, dtype=torch.long)), net(x, t, torch.full((4,), 10))
    assert not torch.allclose(
        out_a, out_b
    )  # the label reaches the output (classifier-free guidance needs it)


def test_config_rejects_patches_that_do_not_tile():
    with pytest.raises(ValueError, match="patch"):
        DiTConfig(image_size=8, patch=3)
    with pytest.raises(ValueError, match="dim"):
        DiTConfig(dim=30, n_heads=4)
