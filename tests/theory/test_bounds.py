"""Rademacher complexity by Monte Carlo against its closed form; the PAC-Bayes pieces against torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from groundup.theory import bounds

pytestmark = pytest.mark.module("0.9")


def test_rademacher_monte_carlo_sits_between_the_khintchine_and_jensen_bounds():
    X = np.random.default_rng(0).normal(size=(100, 5))
    mc, closed = bounds.rademacher_linear(X, B=2.0, draws=4000)
    assert closed / math.sqrt(2) <= mc <= closed
    assert mc == pytest.approx(closed, rel=0.05)  # d << n: the norm concentrates


def test_rademacher_sup_is_reached_by_the_aligned_weight():
    rng = np.random.default_rng(1)
    X, sigma = rng.normal(size=(30, 4)), rng.choice([-1.0, 1.0], 30)
    s = sigma @ X
    W = rng.normal(size=(20000, 4))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    assert (W @ s).max() <= np.linalg.norm(s) + 1e-12
    assert (W @ s).max() > 0.99 * np.linalg.norm(s)


def test_gaussian_kl_equals_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mq, vq, mp = torch.randn(50, generator=g), torch.rand(50, generator=g) + 0.1, torch.randn(50, generator=g)
    q = torch.distributions.Normal(mq, vq.sqrt())
    p = torch.distributions.Normal(mp, torch.full((50,), 0.3).sqrt())
    torch.testing.assert_close(
        bounds.gaussian_kl(mq, vq, mp, 0.3), torch.distributions.kl_divergence(q, p).sum()
    )


def test_kl_inverse_and_the_bound():
    p = bounds.kl_inverse(0.1, 0.05)
    assert bounds.binary_kl(0.1, p) == pytest.approx(0.05, abs=1e-9) and p > 0.1
    assert bounds.mcallester_bound(0.05, kl=0.0, n=10**6) < 0.06
    assert bounds.mcallester_bound(0.05, kl=5000.0, n=1000) > 0.99  # vacuous
