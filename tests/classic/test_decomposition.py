"""PCA against scikit-learn's: components equal up to sign (1e-6), variances and projections."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import decomposition as sk

from groundup.classic import PCA

from .conftest import DATASETS

pytestmark = pytest.mark.module("0.1")


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("solver", ["svd", "eigh"])
@pytest.mark.parametrize("whiten", [False, True])
def test_pca_matches_sklearn(tables, name, solver, whiten):
    X = tables[name][0]
    k = min(X.shape[1], 10)
    ours = PCA(k, svd_solver=solver, whiten=whiten).fit(X)
    ref = sk.PCA(k, whiten=whiten, svd_solver="full").fit(X)
    signs = np.sign(np.sum(ours.components_ * ref.components_, axis=1))  # (k,) +-1 per component
    assert np.all(np.abs(signs) == 1)
    np.testing.assert_allclose(ours.components_, signs[:, None] * ref.components_, atol=1e-6)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_, atol=1e-10)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-8)
    Z, Z_ref = ours.transform(X), ref.transform(X) * signs
    np.testing.assert_allclose(Z, Z_ref, atol=1e-6 * max(1.0, np.abs(Z_ref).max()))
    np.testing.assert_allclose(ours.inverse_transform(Z), ref.inverse_transform(ref.transform(X)), atol=1e-6)


def test_pca_variance_fraction(tables):
    X = tables["digits"][0]
    ours, ref = PCA(0.9).fit(X), sk.PCA(0.9, svd_solver="full").fit(X)
    assert ours.n_components_ == ref.n_components_
    assert ours.noise_variance_ == pytest.approx(ref.noise_variance_, rel=1e-8)
