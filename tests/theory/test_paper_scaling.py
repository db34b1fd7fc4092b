"""Scaling laws: the power-law fit recovers a known exponent; (slow) bigger tiny GPTs reach lower loss."""

from __future__ import annotations

import numpy as np
import pytest

from groundup.theory.papers.scaling import power_law_fit, run

pytestmark = pytest.mark.module("0.10")


def test_power_law_fit_recovers_the_exponent_and_covers_it():
    rng = np.random.default_rng(0)
    x = np.geomspace(1e3, 1e6, 6)
    y = 5.0 * x**-0.076 * np.exp(rng.normal(0, 0.002, 6))
    alpha, a, ci = power_law_fit(x, y)
    assert abs(alpha - 0.076) < ci and ci < 0.01 and a == pytest.approx(5.0, rel=0.05)


@pytest.mark.slow
def test_loss_falls_with_model_size_and_with_tokens():
    from groundup.theory.papers.layernorm import shakespeare

    data, val, vocab = shakespeare()
    small = run(8, data, val, vocab, (20_000, 60_000), seed=0)
    large = run(48, data, val, vocab, (20_000, 60_000), seed=0)
    assert large[0] > small[0] and large[1][60_000] < small[1][60_000]
    assert large[1][60_000] < large[1][20_000]
