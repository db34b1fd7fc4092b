"""Linear models against scikit-learn's on the same data: coefficients and intercepts.

Tolerances: LinearRegression and Ridge 1e-6 (closed forms), Lasso/ElasticNet 1e-4 (both sides run
coordinate descent to a tight duality gap), gradient descent 1e-6 on standardized features.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import linear_model as sk

from groundup.classic import ElasticNet, Lasso, LinearRegression, Ridge

from .conftest import DATASETS, regression_problem

pytestmark = pytest.mark.module("0.1")


def max_diff(ours, ref) -> float:
    return max(np.max(np.abs(ours.coef_ - ref.coef_)), abs(ours.intercept_ - ref.intercept_))


@pytest.mark.parametrize("name", DATASETS)
def test_linear_regression_normal_equation(tables, name):
    X, y = regression_problem(tables[name][0])
    ours, ref = LinearRegression().fit(X, y), sk.LinearRegression().fit(X, y)
    assert max_diff(ours, ref) < 1e-6
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), atol=1e-6)


@pytest.mark.parametrize("name", ("iris", "wine"))  # breast cancer/digits: too ill-conditioned for GD
def test_linear_regression_gradient_descent(scaled_tables, name):
    X, y = regression_problem(scaled_tables[name][0])
    ours = LinearRegression(solver="gd", max_iter=200_000, tol=1e-13).fit(X, y)
    assert max_diff(ours, sk.LinearRegression().fit(X, y)) < 1e-6
    assert ours.n_iter_ > 1


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("alpha", [0.1, 10.0])
def test_ridge(tables, name, alpha):
    X, y = regression_problem(tables[name][0])
    assert max_diff(Ridge(alpha).fit(X, y), sk.Ridge(alpha).fit(X, y)) < 1e-6


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("alpha", [0.01, 0.3])
def test_lasso(scaled_tables, name, alpha):
    X, y = regression_problem(scaled_tables[name][0])
    ours = Lasso(alpha, tol=1e-10, max_iter=100_000).fit(X, y)
    ref = sk.Lasso(alpha=alpha, tol=1e-10, max_iter=100_000).fit(X, y)
    assert max_diff(ours, ref) < 1e-4
    assert np.array_equal(ours.coef_ == 0, ref.coef_ == 0) or alpha < 0.1  # same sparsity pattern


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("l1_ratio", [0.2, 0.7])
def test_elastic_net(scaled_tables, name, l1_ratio):
    X, y = regression_problem(scaled_tables[name][0])
    ours = ElasticNet(0.05, l1_ratio=l1_ratio, tol=1e-10, max_iter=100_000).fit(X, y)
    ref = sk.ElasticNet(alpha=0.05, l1_ratio=l1_ratio, tol=1e-10, max_iter=100_000).fit(X, y)
    assert max_diff(ours, ref) < 1e-4


def test_lasso_default_tolerance_is_close(scaled_tables):
    """With both libraries' default tol (1e-4 duality gap) coefficients still agree closely."""
    X, y = regression_problem(scaled_tables["breast_cancer"][0])
    assert max_diff(Lasso(0.01).fit(X, y), sk.Lasso(alpha=0.01).fit(X, y)) < 1e-2
