"""Metrics against scikit-learn's to 1e-12, on random labels/scores and on real predictions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from groundup.classic import metrics as ours

pytestmark = pytest.mark.module("0.1")
TOL = 1e-12


def labels(n_classes: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    y = rng.randint(n_classes, size=n)
    noisy = np.where(rng.uniform(size=n) < 0.3, rng.randint(n_classes, size=n), y)  # 70% correct-ish
    return y, noisy


@settings(max_examples=25, deadline=None)
@given(n_classes=st.integers(2, 6), n=st.integers(5, 200), seed=st.integers(0, 10_000))
def test_classification_metrics(n_classes, n, seed):
    y, yhat = labels(n_classes, n, seed)
    assert ours.accuracy_score(y, yhat) == pytest.approx(sk.accuracy_score(y, yhat), abs=TOL)
    np.testing.assert_array_equal(ours.confusion_matrix(y, yhat), sk.confusion_matrix(y, yhat))
    assert ours.matthews_corrcoef(y, yhat) == pytest.approx(sk.matthews_corrcoef(y, yhat), abs=TOL)
    for average in ("micro", "macro", "weighted"):
        for name in ("precision_score", "recall_score", "f1_score"):
            got = getattr(ours, name)(y, yhat, average=average)
            want = getattr(sk, name)(y, yhat, average=average, zero_division=0)
            assert got == pytest.approx(want, abs=TOL), (name, average)
    p, r, f, s = ours.precision_recall_fscore(y, yhat, average=None)
    wp, wr, wf, ws = sk.precision_recall_fscore_support(y, yhat, average=None, zero_division=0)
    np.testing.assert_allclose(np.c_[p, r, f], np.c_[wp, wr, wf], atol=TOL)
    np.testing.assert_array_equal(s, ws)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(4, 200), seed=st.integers(0, 10_000), ties=st.booleans())
def test_binary_metrics_and_roc(n, seed, ties):
    rng = np.random.RandomState(seed)
    y = rng.randint(2, size=n)
    y[:2] = [0, 1]  # both classes present
    score = rng.normal(size=n) + y
    if ties:
        score = np.round(score, 1)
    yhat = (score > 0.5).astype(int)
    for name in ("precision_score", "recall_score", "f1_score"):
        assert getattr(ours, name)(y, yhat) == pytest.approx(
            getattr(sk, name)(y, yhat, zero_division=0), abs=TOL
        )
    for drop in (True, False):
        got, want = (
            ours.roc_curve(y, score, drop_intermediate=drop),
            sk.roc_curve(y, score, drop_intermediate=drop),
        )
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, atol=TOL)
    assert ours.roc_auc_score(y, score) == pytest.approx(sk.roc_auc_score(y, score), abs=TOL)
    fpr, tpr, _ = sk.roc_curve(y, score)
    assert ours.auc(fpr, tpr) == pytest.approx(sk.auc(fpr, tpr), abs=TOL)
    prob = 1 / (1 + np.exp(-score))
    assert ours.log_loss(y, prob) == pytest.approx(sk.log_loss(y, prob), abs=TOL)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(3, 100), k=st.integers(2, 5), seed=st.integers(0, 10_000))
def test_multiclass_log_loss(n, k, seed):
    rng = np.random.RandomState(seed)
    y = np.r_[np.arange(k), rng.randint(k, size=n)]
    prob = rng.dirichlet(np.ones(k), size=len(y))
    prob[0, y[0]] = 0.0  # exercise clipping
    assert ours.log_loss(y, prob) == pytest.approx(sk.log_loss(y, prob), abs=TOL)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 100), seed=st.integers(0, 10_000))
def test_regression_metrics(n, seed):
    rng = np.random.RandomState(seed)
    y, yhat = rng.normal(size=n) * 10, rng.normal(size=n) * 10
    assert ours.mean_squared_error(y, yhat) == pytest.approx(sk.mean_squared_error(y, yhat), abs=TOL)
    assert ours.mean_absolute_error(y, yhat) == pytest.approx(sk.mean_absolute_error(y, yhat), abs=TOL)
    assert ours.r2_score(y, yhat) == pytest.approx(sk.r2_score(y, yhat), abs=TOL)


def test_metrics_with_string_labels_and_binary_pos_label():
    y = np.array(["cat", "dog", "dog", "cat", "bird", "dog"])
    yhat = np.array(["cat", "dog", "cat", "cat", "dog", "dog"])
    assert ours.f1_score(y, yhat, average="macro") == pytest.approx(
        sk.f1_score(y, yhat, average="macro", zero_division=0), abs=TOL
    )
    yb, yhatb = y[y != "bird"], yhat[y != "bird"]
    assert ours.precision_score(yb, yhatb, pos_label="dog") == pytest.approx(
        sk.precision_score(yb, yhatb, pos_label="dog"), abs=TOL
    )


def test_metric_errors_name_the_problem():
    with pytest.raises(ValueError, match="different lengths"):
        ours.accuracy_score([0, 1], [0])
    with pytest.raises(ValueError, match="binary"):
        ours.f1_score([0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="both classes"):
        ours.roc_auc_score([1, 1], [0.2, 0.3])
