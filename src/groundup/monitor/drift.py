"""Drift statistics between a reference sample (what the model was trained on) and a current one.

Each compares two samples of one feature and answers "has its distribution moved?":

- PSI, the population stability index: sum_i (q_i - p_i) ln(q_i / p_i) over shared bins, i.e.
  KL(q||p) + KL(p||q). The credit-scoring rule of thumb reads < 0.1 stable, 0.1-0.25 moderate,
  > 0.25 major shift.
- KS, the two-sample Kolmogorov-Smirnov statistic D = sup_x |F_ref(x) - F_cur(x)| with the
  asymptotic Kolmogorov p-value Q(sqrt(n m / (n + m)) D), Q(l) = 2 sum_k (-1)^(k-1) exp(-2 k^2 l^2).
- KL and Jensen-Shannon divergences of binned proportions (natural log); JS is symmetric and bounded
  by ln 2, so it stays finite where a bin is empty on one side.
- chi-square test of homogeneity for a categorical feature: the 2 x K contingency table of counts,
  with Yates' continuity correction when it has one degree of freedom.

Continuous features are binned by the reference's quantiles, so each bin holds about the same share
of the reference and the binning itself cannot hide a shift. Every statistic equals scipy.stats' on
the same samples (tests/monitor/test_drift.py); only scipy.special's incomplete gamma is used here.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaincc

from groundup.contracts import contract, probabilities, tensor

EPS = 1e-6  # floor for an empty bin's share, so PSI and KL stay finite (the usual convention)


def quantile_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Interior bin edges at the reference's quantiles (duplicates dropped for discrete data): (<= bins-1,)."""
    if bins < 2:
        raise ValueError(f"bins must be >= 2, got {bins}")
    qs = np.quantile(np.asarray(reference, float), np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(qs)


@contract(values=tensor("N"), returns=probabilities("K"))
def proportions(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of `values` in each bin (-inf, e_0], (e_0, e_1], ..., (e_last, inf): (len(edges)+1,)."""
    idx = np.searchsorted(edges, np.asarray(values, float), side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def _floored(p: np.ndarray, eps: float) -> np.ndarray:
    p = np.maximum(np.asarray(p, float), eps)
    return p / p.sum()


@contract(p=tensor("K", low=0), q=tensor("K", low=0))
def kl_divergence(p: np.ndarray, q: np.ndarray, eps: float = 0.0) -> float:
    """KL(p||q) = sum p ln(p/q) of two distributions (normalized here); `eps` floors empty bins."""
    p, q = _floored(p, eps), _floored(q, eps)
    mask = p > 0
    with np.errstate(divide="ignore"):
        return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


@contract(p=tensor("K", low=0), q=tensor("K", low=0))
def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (KL(p||m) + KL(q||m)) / 2 with m = (p+q)/2; in [0, ln 2]."""
    p, q = _floored(p, 0.0), _floored(q, 0.0)
    m = (p + q) / 2
    return 0.5 * kl_divergence(p, m) + 0.5 * kl_divergence(q, m)


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10, eps: float = EPS) -> float:
    """Population stability index of a continuous feature over the reference's quantile bins."""
    edges = quantile_edges(reference, bins)
    p = _floored(proportions(reference, edges), eps)
    q = _floored(proportions(current, edges), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def kolmogorov_sf(lam: float, terms: int = 100) -> float:
    """P(K > lam) for the Kolmogorov distribution (the limit of sqrt(n) D_n)."""
    if lam <= 0:
        return 1.0
    k = np.arange(1, terms + 1)
    return float(np.clip(2 * np.sum((-1.0) ** (k - 1) * np.exp(-2 * k**2 * lam**2)), 0.0, 1.0))


def ks_two_sample(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """(D, asymptotic p-value): D is the largest gap between the two empirical CDFs."""
    a, b = np.sort(np.asarray(reference, float)), np.sort(np.asarray(current, float))
    if len(a) == 0 or len(b) == 0:
        raise ValueError("ks_two_sample needs two non-empty samples")
    grid = np.concatenate([a, b])  # the CDFs only jump at sample points
    cdf_a = np.searchsorted(a, grid, side="right") / len(a)
    cdf_b = np.searchsorted(b, grid, side="right") / len(b)
    d = float(np.max(np.abs(cdf_a - cdf_b)))
    en = len(a) * len(b) / (len(a) + len(b))
    return d, kolmogorov_sf(np.sqrt(en) * d)


def contingency(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, list]:
    """(2, K) counts of each category seen in either sample, and the K category labels (sorted)."""
    cats = sorted(set(np.asarray(reference).tolist()) | set(np.asarray(current).tolist()), key=str)
    index = {c: i for i, c in enumerate(cats)}
    table = np.zeros((2, len(cats)))
    for row, sample in enumerate((reference, current)):
        for value in np.asarray(sample).tolist():
            table[row, index[value]] += 1
    return table, cats


@contract(table=tensor("R C", low=0, finite=True))
def chi_square(table: np.ndarray, correction: bool = True) -> tuple[float, float, int]:
    """(statistic, p-value, dof) of the chi-square test of independence on a contingency table.

    Expected counts are row total x column total / n; with one degree of freedom Yates' correction
    moves each observed count half a unit towards its expectation (as scipy does by default)."""
    observed = np.asarray(table, float)
    if observed.ndim != 2 or min(observed.shape) < 1 or observed.sum() <= 0:
        raise ValueError(f"table must be a non-empty 2-D array of counts, got shape {observed.shape}")
    expected = observed.sum(1, keepdims=True) * observed.sum(0, keepdims=True) / observed.sum()
    if np.any(expected == 0):
        raise ValueError("table has an all-zero row or column; drop the empty category")
    dof = (observed.shape[0] - 1) * (observed.shape[1] - 1)
    if dof == 0:
        return 0.0, 1.0, 0
    if correction and dof == 1:
        diff = expected - observed
        observed = observed + np.sign(diff) * np.minimum(0.5, np.abs(diff))
    stat = float(np.sum((observed - expected) ** 2 / expected))
    return stat, float(gammaincc(dof / 2, stat / 2)), dof
