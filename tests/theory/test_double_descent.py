"""Random-features regression on real digits: the test error peaks near p = n."""

from __future__ import annotations

import numpy as np
import pytest

from groundup.data import load_sklearn
from groundup.theory.double_descent import min_norm_fit, random_features_sweep

pytestmark = pytest.mark.module("0.9")


def test_min_norm_fit_is_the_pseudo_inverse():
    rng = np.random.default_rng(0)
    Phi, Y = rng.normal(size=(10, 30)), rng.normal(size=(10, 2))
    np.testing.assert_allclose(min_norm_fit(Phi, Y), np.linalg.pinv(Phi) @ Y, atol=1e-10)


def test_test_error_peaks_at_the_interpolation_threshold():
    X, y = load_sklearn("digits")
    X = (X - X.mean(0)) / (X.std(0) + 1e-8)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    n = 200
    train, test = order[:n], order[n : n + 800]
    widths = [20, 50, 100, 150, 180, 200, 220, 260, 400, 1000, 3000]
    r = random_features_sweep(X[train], y[train], X[test], y[test], widths, seeds=3)
    peak = widths[int(np.argmax(r["test_mse"]))]
    assert 0.75 * n <= peak <= 1.25 * n
    assert r["test_mse"].max() > 5 * r["test_mse"][-1] and r["test_mse"].max() > 5 * r["test_mse"][0]
    assert r["train_mse"][widths.index(400)] < 1e-8  # past the threshold it interpolates
    assert r["test_error"][-1] < r["test_error"][widths.index(200)]
