"""Statistics for comparing training runs over seeds (curriculum 0.6): is a difference real?

Each configuration is trained with n >= 5 seeds; its final test accuracies are the sample.
- mean +- 95% CI: x_bar +- t_{0.975, n-1} s / sqrt(n).
- Welch's t-test (unequal variances): t = (x_bar - y_bar) / sqrt(s_x^2/n_x + s_y^2/n_y), with the
  Welch-Satterthwaite degrees of freedom nu = (a + b)^2 / (a^2/(n_x-1) + b^2/(n_y-1)), a = s_x^2/n_x,
  b = s_y^2/n_y; two-sided p = 2 P(T_nu > |t|).
- permutation test: the share of all relabellings of the pooled runs (all C(n_x+n_y, n_x) splits when
  that is at most `exact_limit`, otherwise `rounds` random ones) whose |mean difference| is at least the
  observed one. It assumes nothing about the distribution.
- Holm's step-down correction for m comparisons: sort p ascending, p_adj(i) = max_{j<=i} min(1,
  (m - j + 1) p_(j)); it controls the family-wise error rate at alpha, like Bonferroni, but rejects more.

The t distribution comes from `scipy.special` (stdtr, stdtrit); the tests check everything against
`scipy.stats`.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import special


@dataclass(frozen=True)
class Summary:
    mean: float
    half_width: float  # of the 95% confidence interval
    n: int


def mean_ci(x, confidence: float = 0.95) -> Summary:
    """Sample mean and the half-width of its t-based confidence interval."""
    x = np.asarray(x, float)
    if len(x) < 2:
        raise ValueError(f"x needs at least 2 values for a confidence interval, got {len(x)}")
    t = special.stdtrit(len(x) - 1, 0.5 + confidence / 2)
    return Summary(float(x.mean()), float(t * x.std(ddof=1) / math.sqrt(len(x))), len(x))


def welch_t_test(x, y) -> tuple[float, float, float]:
    """(t, degrees of freedom, two-sided p) for mean(x) != mean(y) without assuming equal variances."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    a, b = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    if a + b == 0:
        same = x.mean() == y.mean()
        return (0.0 if same else math.copysign(math.inf, x.mean() - y.mean())), math.nan, 1.0 if same else 0.0
    t = (x.mean() - y.mean()) / math.sqrt(a + b)
    df = (a + b) ** 2 / (a**2 / (len(x) - 1) + b**2 / (len(y) - 1))
    return float(t), float(df), float(2 * special.stdtr(df, -abs(t)))


@functools.cache
def relabellings(total: int, n: int) -> np.ndarray:
    """Every way to choose which n of `total` pooled values form the first group: (C(total, n), n)
    indices, built once per size (an A/A check runs thousands of tests of one size)."""
    flat = itertools.chain.from_iterable(itertools.combinations(range(total), n))
    out = np.fromiter(flat, np.intp).reshape(-1, n)
    out.flags.writeable = False  # shared by every caller
    return out


def permutation_test(x, y, *, exact_limit: int = 20_000, rounds: int = 20_000, seed: int = 0) -> float:
    """Two-sided p-value of the mean difference under random relabelling of the pooled sample."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    pooled, n = np.concatenate([x, y]), len(x)
    observed = abs(x.mean() - y.mean())
    total = pooled.sum()
    if math.comb(len(pooled), n) <= exact_limit:
        sums = pooled[relabellings(len(pooled), n)].sum(1)
    else:
        rng = np.random.default_rng(seed)
        sums = np.array([pooled[rng.permutation(len(pooled))[:n]].sum() for _ in range(rounds)])
    diffs = np.abs(sums / n - (total - sums) / len(y))
    return float(np.mean(diffs >= observed - 1e-12))


def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values, in the input order."""
    p = np.asarray(p_values, float)
    m = len(p)
    order = np.argsort(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out
