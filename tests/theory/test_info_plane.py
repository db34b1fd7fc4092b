"""Mutual-information estimators of the information plane against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from groundup.theory.info_plane import (
    binned_mutual_information,
    discretize,
    entropy,
    kde_mutual_information,
    layer_information,
)

pytestmark = pytest.mark.module("0.9")


@pytest.mark.parametrize("seed", range(4))
def test_binned_mi_equals_sklearn(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 7, 500)
    b = (a + rng.integers(0, 3, 500)) % 5
    assert binned_mutual_information(a, b) == pytest.approx(mutual_info_score(a, b), rel=1e-12)


def test_discretized_layer_mi_equals_sklearn_and_is_bounded():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    T = np.tanh(rng.normal(size=(300, 4)) + y[:, None])
    t = discretize(T, bins=8)
    assert binned_mutual_information(t, y) == pytest.approx(mutual_info_score(t, y), rel=1e-12)
    ixt, ity = layer_information(T, np.arange(300), y, bins=8)
    assert ixt == pytest.approx(entropy(t)) and ity <= min(ixt, entropy(y)) + 1e-12


def test_kde_estimates_move_with_the_signal():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    informative = y[:, None] * 3.0 + 0.1 * rng.normal(size=(200, 2))
    noise = rng.normal(size=(200, 2))
    _, ity_good = kde_mutual_information(informative, y, 0.1)
    _, ity_bad = kde_mutual_information(noise, y, 0.1)
    assert ity_good == pytest.approx(np.log(2), abs=0.02) and ity_bad < 0.2
