"""Adam: our optimizer equals torch's; without bias correction the first steps are too large."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from groundup.theory.papers.adam import Adam, first_step_ratio

pytestmark = pytest.mark.module("0.10")


def test_adam_equals_torch_adam_over_twenty_steps():
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    b = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    b.load_state_dict(a.state_dict())
    ours, theirs = (
        Adam(a.parameters(), 3e-3, betas=(0.8, 0.99)),
        torch.optim.Adam(b.parameters(), 3e-3, betas=(0.8, 0.99)),
    )
    x, y = torch.randn(32, 5, dtype=torch.float64), torch.randint(0, 3, (32,))
    for _ in range(20):
        for model, opt in ((a, ours), (b, theirs)):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("beta2", [0.99, 0.999, 0.9999])
def test_uncorrected_first_step_is_one_minus_beta1_over_root_one_minus_beta2_times_larger(beta2):
    steps = []
    for corrected in (True, False):
        w = torch.zeros(4, requires_grad=True)
        opt = Adam([w], 1e-3, betas=(0.9, beta2), eps=0.0, bias_correction=corrected)
        (w * torch.tensor([1.0, -2.0, 3.0, 0.5])).sum().backward()
        opt.step()
        steps.append(w.detach().abs())
    torch.testing.assert_close(steps[1] / steps[0], torch.full((4,), first_step_ratio(0.9, beta2)))


def test_bad_betas_name_the_parameter():
    with pytest.raises(ValueError, match="betas"):
        Adam([torch.zeros(1, requires_grad=True)], betas=(0.9, 1.0))
