"""Observers against torch.ao's, percentile against NumPy, KL against SciPy, and clipping that pays off."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import entropy as scipy_entropy
from torch.ao.quantization.observer import MinMaxObserver as TorchMinMax
from torch.ao.quantization.observer import MovingAverageMinMaxObserver as TorchMovingAverage
from torch.ao.quantization.observer import PerChannelMinMaxObserver as TorchPerChannel

from groundup.quant import QScheme, calc_qparams, make_observer, mse, mse_optimal_range, quantize_dequantize
from groundup.quant.entropy import kl_divergence, kl_threshold, merge_expand

pytestmark = pytest.mark.module("1.1")


def batches(n=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(32, 20, generator=g) * (i + 1) + i * 0.3 for i in range(n)]


def test_minmax_observer_matches_torch():
    ours = make_observer("minmax", QScheme(symmetric=False, signed=False))
    theirs = TorchMinMax(dtype=torch.quint8)
    for x in batches():
        ours(x)
        theirs(x)
    assert ours.lo == theirs.min_val and ours.hi == theirs.max_val
    s, z = ours.qparams()
    ts, tz = theirs.calculate_qparams()
    torch.testing.assert_close(s.reshape(1), ts, rtol=1e-6, atol=0)
    assert int(z) == int(tz)


def test_moving_average_observer_matches_torch():
    ours = make_observer("moving_average", QScheme(symmetric=False, signed=False), averaging_constant=0.1)
    theirs = TorchMovingAverage(averaging_constant=0.1, dtype=torch.quint8)
    for x in batches():
        ours(x)
        theirs(x)
    torch.testing.assert_close(ours.lo, theirs.min_val, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(ours.hi, theirs.max_val, rtol=1e-6, atol=1e-6)


def test_per_channel_minmax_observer_matches_torch():
    scheme = QScheme(granularity="channel", axis=1)
    ours = make_observer("minmax", scheme)
    theirs = TorchPerChannel(ch_axis=1, dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    for x in batches():
        ours(x)
        theirs(x)
    torch.testing.assert_close(
        ours.qparams()[0].reshape(-1), theirs.calculate_qparams()[0], rtol=1e-6, atol=0
    )


def test_percentile_observer_matches_numpy():
    x = torch.randn(50_000)
    obs = make_observer("percentile", percentile=99.9)
    obs(x)
    expected = np.percentile(np.abs(x.numpy()).astype(np.float64), 99.9)
    lo, hi = obs.range()
    assert float(hi) == pytest.approx(expected, rel=1e-5)
    assert float(lo) == -float(hi)


def test_mse_clipping_beats_minmax_on_heavy_tails():
    torch.manual_seed(0)
    x = torch.distributions.Laplace(0.0, 1.0).sample((20_000,))
    scheme = QScheme(bits=4)
    lo, hi = mse_optimal_range(x, scheme)
    clipped = mse(x, quantize_dequantize(x, scheme, lo=lo, hi=hi))
    assert clipped < mse(x, quantize_dequantize(x, scheme)) / 2
    assert float(hi) < float(x.max())


def test_mse_search_per_channel_is_never_worse_per_channel():
    w = torch.randn(8, 256) * torch.logspace(-2, 0, 8)[:, None]
    scheme = QScheme(bits=4, granularity="channel")
    lo, hi = mse_optimal_range(w, scheme, grid=50)
    scale, zero = calc_qparams(lo, hi, scheme)
    clipped = ((w - quantize_dequantize(w, scheme, lo=lo, hi=hi)) ** 2).mean(1)
    plain = ((w - quantize_dequantize(w, scheme)) ** 2).mean(1)
    assert scale.shape == (8, 1) and torch.all(clipped <= plain + 1e-12)


def test_kl_divergence_matches_scipy():
    rng = np.random.default_rng(0)
    p, q = rng.random(300), rng.random(300) + 0.01
    p[::7] = 0
    assert kl_divergence(p, q) == pytest.approx(scipy_entropy(p, q), rel=1e-12)


def test_merge_expand_keeps_each_chunks_mass_on_its_nonempty_bins():
    hist = np.array([4, 0, 2, 2, 0, 0, 9, 1], dtype=np.float64)
    q = merge_expand(hist, 2)
    assert q.tolist() == [8 / 3, 0, 8 / 3, 8 / 3, 0, 0, 5, 5]


def test_entropy_calibration_clips_rare_outliers_but_not_the_bulk():
    rng = np.random.default_rng(0)
    relu = np.maximum(rng.standard_normal(200_000), 0)
    t = kl_threshold(relu)
    assert 1.0 < t < 0.8 * relu.max()  # clips the tail of the ReLU activation
    obs = make_observer("entropy")
    obs(torch.from_numpy(relu).float())
    assert float(obs.range()[1]) == pytest.approx(t, rel=1e-3)
