"""Every drift statistic equals scipy's on the same samples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from groundup.monitor import drift

pytestmark = pytest.mark.module("3.7")


def samples(seed: int, n: int = 400, m: int = 300, shift: float = 0.3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=n), rng.normal(shift, 1.2, size=m)


@pytest.mark.parametrize("seed", range(4))
def test_ks_statistic_equals_scipy_and_p_value_is_kolmogorov(seed):
    a, b = samples(seed)
    d, p = drift.ks_two_sample(a, b)
    ref = stats.ks_2samp(a, b, method="asymp")
    assert d == pytest.approx(ref.statistic, abs=1e-12)
    en = len(a) * len(b) / (len(a) + len(b))
    assert p == pytest.approx(stats.kstwobign.sf(np.sqrt(en) * d), rel=1e-9, abs=1e-12)


@given(
    st.lists(st.integers(-5, 5), min_size=1, max_size=40),
    st.lists(st.integers(-5, 5), min_size=1, max_size=40),
)
@settings(max_examples=60, deadline=None)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # scipy's own p-value at n = 1
def test_ks_statistic_with_ties_equals_scipy(a, b):
    assert drift.ks_two_sample(a, b)[0] == pytest.approx(
        stats.ks_2samp(a, b, method="asymp").statistic, abs=1e-12
    )


@pytest.mark.parametrize("seed", range(3))
def test_kl_js_psi_equal_scipy_on_the_same_bins(seed):
    a, b = samples(seed)
    edges = drift.quantile_edges(a, 10)
    p, q = drift.proportions(a, edges), drift.proportions(b, edges)
    assert p.sum() == pytest.approx(1) and len(p) == 10
    assert drift.kl_divergence(p, q) == pytest.approx(stats.entropy(p, q), rel=1e-12)
    assert drift.js_divergence(p, q) == pytest.approx(jensenshannon(p, q) ** 2, rel=1e-10)
    pf, qf = np.maximum(p, drift.EPS), np.maximum(q, drift.EPS)
    pf, qf = pf / pf.sum(), qf / qf.sum()
    assert drift.psi(a, b) == pytest.approx(stats.entropy(pf, qf) + stats.entropy(qf, pf), rel=1e-12)


def test_psi_reads_the_rule_of_thumb():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=5000)
    assert drift.psi(ref, rng.normal(size=5000)) < 0.1
    assert drift.psi(ref, rng.normal(1.0, 1, size=5000)) > 0.25


def test_js_is_bounded_by_ln2_where_kl_is_infinite():
    p, q = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert drift.js_divergence(p, q) == pytest.approx(np.log(2))
    assert drift.kl_divergence(p, q) == np.inf


@pytest.mark.parametrize("correction", [True, False])
@pytest.mark.parametrize("k", [2, 3, 5])
def test_chi_square_equals_scipy_chi2_contingency(k, correction):
    rng = np.random.default_rng(k)
    cats = np.array(list("abcde"[:k]))
    ref = rng.choice(cats, 300, p=np.full(k, 1 / k))
    cur = rng.choice(cats, 200, p=np.linspace(1, 2, k) / np.linspace(1, 2, k).sum())
    table, labels = drift.contingency(ref, cur)
    assert labels == sorted(cats.tolist())
    stat, p, dof = drift.chi_square(table, correction=correction)
    ref_res = stats.chi2_contingency(table, correction=correction)
    assert stat == pytest.approx(ref_res.statistic, rel=1e-12)
    assert p == pytest.approx(ref_res.pvalue, rel=1e-9)
    assert dof == ref_res.dof


def test_bad_inputs_raise_naming_the_parameter():
    with pytest.raises(ValueError, match="bins"):
        drift.quantile_edges(np.arange(5), bins=1)
    with pytest.raises(ValueError, match="non-empty"):
        drift.ks_two_sample([], [1.0])
