"""The laboratory's statistics against scipy.stats; Holm against its definition; the A/A false-positive rate."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from groundup.vision.stats import holm, mean_ci, permutation_test, welch_t_test

pytestmark = pytest.mark.module("0.6")

rng = np.random.default_rng(0)
SAMPLES = [
    (rng.normal(0.9, 0.01, 5), rng.normal(0.91, 0.02, 6)),
    (rng.normal(0, 1, 8), rng.normal(0.5, 3, 5)),
]


@pytest.mark.parametrize(("x", "y"), SAMPLES)
def test_welch_matches_scipy(x, y):
    t, df, p = welch_t_test(x, y)
    ref = stats.ttest_ind(x, y, equal_var=False)
    assert t == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)
    assert df == pytest.approx(ref.df)


def test_confidence_interval_matches_scipy():
    x = SAMPLES[0][0]
    s = mean_ci(x)
    low, high = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert s.mean - s.half_width == pytest.approx(low) and s.mean + s.half_width == pytest.approx(high)


@pytest.mark.parametrize(("x", "y"), SAMPLES)
def test_exact_permutation_test_matches_scipy(x, y):
    ref = stats.permutation_test(
        (x, y),
        lambda a, b: abs(a.mean() - b.mean()),
        permutation_type="independent",
        n_resamples=np.inf,
        alternative="greater",
    )
    assert permutation_test(x, y) == pytest.approx(ref.pvalue)


def test_holm_matches_its_definition():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    adjusted = holm(p)
    order = np.argsort(p)
    expected = np.maximum.accumulate([min(1, (5 - i) * p[j]) for i, j in enumerate(order)])
    np.testing.assert_allclose(adjusted[order], expected)


def test_aa_false_positive_rate_is_near_alpha():
    """Two groups drawn from one distribution: Welch rejects at 5% about 5% of the time."""
    gen = np.random.default_rng(1)
    rejections = [welch_t_test(gen.normal(size=5), gen.normal(size=5))[2] < 0.05 for _ in range(2000)]
    assert 0.03 < np.mean(rejections) < 0.07


@pytest.mark.parametrize("n_runs", [8, 9])
def test_aa_split_rates_equal_one_test_per_split(n_runs):
    """The shared-null shortcut gives, split by split, what Welch and permutation_test give."""
    import itertools

    from groundup.vision.lab import aa_split_rates

    runs = np.random.default_rng(3).normal(0.95, 0.004, n_runs)
    half = n_runs // 2
    splits = [c for c in itertools.combinations(range(n_runs), half) if 0 in c]
    rest = lambda c: [runs[i] for i in range(n_runs) if i not in c]  # noqa: E731
    welch = np.mean([welch_t_test(runs[list(c)], rest(c))[2] < 0.05 for c in splits])
    perm = np.mean([permutation_test(runs[list(c)], rest(c)) < 0.05 for c in splits])
    assert aa_split_rates(list(runs)) == (pytest.approx(welch), pytest.approx(perm), len(splits))
