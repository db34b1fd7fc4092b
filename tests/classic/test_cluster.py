"""k-means and Gaussian mixtures against scikit-learn.

k-means: inertia within 1% from the same initial centers (in practice equal to ~1e-12).
GMM: average log-likelihood within 0.5% from the same initial parameters, full and diagonal
covariances; BIC from the same fit.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import cluster as skc
from sklearn import mixture as skm

from groundup.classic import GaussianMixture, KMeans

from .conftest import DATASETS

pytestmark = pytest.mark.module("0.1")


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("k", [3, 8])
def test_kmeans_same_init(tables, name, k):
    X = tables[name][0]
    init = X[np.random.RandomState(k).choice(len(X), k, replace=False)]
    ours = KMeans(k, init=init).fit(X)
    ref = skc.KMeans(k, init=init, n_init=1).fit(X)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=0.01)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)


@pytest.mark.parametrize("init", ["k-means++", "random"])
@pytest.mark.parametrize("name", ("iris", "wine", "breast_cancer"))
def test_kmeans_initializations_reach_sklearn_quality(tables, name, init):
    """Different random streams, so not the same runs: best-of-10 inertia within 1% of scikit-learn's."""
    X = tables[name][0]
    ours = KMeans(3, init=init, n_init=10, random_state=0).fit(X)
    ref = skc.KMeans(3, init=init, n_init=10, random_state=0).fit(X)
    assert ours.inertia_ <= ref.inertia_ * 1.01


def sklearn_start(X, k, covariance_type):
    """scikit-learn's k-means initialization, read out after zero EM steps."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter=0 warns that EM did not converge
        start = skm.GaussianMixture(k, covariance_type=covariance_type, max_iter=0, random_state=0).fit(X)
    return {"weights_init": start.weights_, "means_init": start.means_, "precisions_init": start.precisions_}


@pytest.mark.parametrize(
    "name", ["iris", "wine", "breast_cancer", pytest.param("digits", marks=pytest.mark.slow)]
)
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_gmm_log_likelihood(tables, name, covariance_type):
    X = tables[name][0]
    start = sklearn_start(X, 3, covariance_type)
    ours = GaussianMixture(3, covariance_type=covariance_type, **start).fit(X)
    ref = skm.GaussianMixture(3, covariance_type=covariance_type, random_state=0, **start).fit(X)
    assert ours.score(X) == pytest.approx(ref.score(X), rel=0.005)
    assert ours.bic(X) == pytest.approx(ref.bic(X), rel=0.005)
    assert ours.aic(X) == pytest.approx(ref.aic(X), rel=0.005)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-4)


def test_gmm_own_kmeans_init(tables):
    """Our own k-means initialization reaches scikit-learn's likelihood on iris."""
    X = tables["iris"][0]
    ours = GaussianMixture(3, random_state=0, n_init=3).fit(X)
    ref = skm.GaussianMixture(3, random_state=0, n_init=3).fit(X)
    assert ours.score(X) == pytest.approx(ref.score(X), rel=0.005)
    assert ours.converged_
