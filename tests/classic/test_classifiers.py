"""Classifier accuracy against scikit-learn under the same cross-validation folds: within 2 points.

Both sides see identical inputs and identical folds (scikit-learn's StratifiedKFold, shuffled with
seed 0); distance- and gradient-based models get standardized features, trees and Naive Bayes the
raw table. The digits runs of the slower models are marked slow.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import ensemble, linear_model, naive_bayes, neighbors, svm, tree
from sklearn.model_selection import StratifiedKFold

import groundup.classic as gc

from .conftest import DATASETS, SMALL

pytestmark = pytest.mark.module("0.1")


def cv_accuracy(estimator, X, y) -> float:
    """Mean test accuracy over five stratified folds, fitting a fresh estimator each time."""
    scores = []
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
        model = estimator.fit(X[train], y[train])
        scores.append(np.mean(model.predict(X[test]) == y[test]))
    return float(np.mean(scores))


def assert_close_accuracy(ours, ref, X, y, floor=0.7):
    a, b = cv_accuracy(ours, X, y), cv_accuracy(ref, X, y)
    assert abs(a - b) <= 0.02, f"ours {a:.4f} vs scikit-learn {b:.4f}"
    assert a > floor  # the model learned something, not just matched a failure


def slow_on_digits(names):
    return [pytest.param(n, marks=pytest.mark.slow) if n == "digits" else n for n in names]


# L1/elastic-net on digits runs in the slow variant below.
LOGISTIC_CASES = [
    (name, penalty)
    for name in DATASETS
    for penalty in ("l2", "l1", "elasticnet")
    if name != "digits" or penalty == "l2"
]


@pytest.mark.parametrize("name,penalty", LOGISTIC_CASES)
def test_logistic_regression(scaled_tables, name, penalty):
    X, y = scaled_tables[name]
    l1_ratio = {"l2": 0.0, "l1": 1.0, "elasticnet": 0.5}[penalty]
    ours = gc.LogisticRegression(penalty=penalty, l1_ratio=0.5, max_iter=300)
    solver = "lbfgs" if penalty == "l2" else "saga"
    ref = linear_model.LogisticRegression(l1_ratio=l1_ratio, solver=solver, max_iter=1000)
    assert_close_accuracy(ours, ref, X, y)


@pytest.mark.slow
@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
def test_logistic_regression_sparse_penalties_digits(scaled_tables, penalty):
    X, y = scaled_tables["digits"]
    l1_ratio = {"l1": 1.0, "elasticnet": 0.5}[penalty]
    ours = gc.LogisticRegression(penalty=penalty, l1_ratio=0.5, max_iter=300)
    ref = linear_model.LogisticRegression(l1_ratio=l1_ratio, solver="saga", max_iter=300)
    assert_close_accuracy(ours, ref, X, y)


def test_logistic_probabilities_match_lbfgs(scaled_tables):
    """Same objective, both solved to convergence: L2 probabilities agree closely, binary and multinomial."""
    for name in ("iris", "breast_cancer"):
        X, y = scaled_tables[name]
        ours = gc.LogisticRegression(C=0.5, tol=1e-10).fit(X, y)
        ref = linear_model.LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(X, y)
        np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-5)
        np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-3)


@pytest.mark.parametrize("name", DATASETS)
def test_naive_bayes(tables, name):
    X, y = tables[name]
    assert_close_accuracy(gc.GaussianNB(), naive_bayes.GaussianNB(), X, y)
    assert_close_accuracy(gc.MultinomialNB(), naive_bayes.MultinomialNB(), X, y)
    for ours, ref in (
        (gc.GaussianNB(), naive_bayes.GaussianNB()),
        (gc.MultinomialNB(), naive_bayes.MultinomialNB()),
    ):
        np.testing.assert_allclose(ours.fit(X, y).predict_proba(X), ref.fit(X, y).predict_proba(X), atol=1e-9)


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_knn_classifier(scaled_tables, name, weights):
    X, y = scaled_tables[name]
    assert_close_accuracy(
        gc.KNeighborsClassifier(5, weights=weights), neighbors.KNeighborsClassifier(5, weights=weights), X, y
    )


@pytest.mark.parametrize("name", SMALL)
def test_knn_regressor(scaled_tables, name):
    X = scaled_tables[name][0]
    X, target = X[:, 1:], X[:, 0]
    ours = gc.KNeighborsRegressor(7, weights="distance").fit(X[:-20], target[:-20])
    ref = neighbors.KNeighborsRegressor(7, weights="distance").fit(X[:-20], target[:-20])
    np.testing.assert_allclose(ours.predict(X[-20:]), ref.predict(X[-20:]), atol=1e-9)


@pytest.mark.parametrize("name", slow_on_digits(DATASETS))
@pytest.mark.parametrize("criterion", ["gini", "entropy"])
def test_decision_tree_classifier(tables, name, criterion):
    X, y = tables[name]
    ours = gc.DecisionTreeClassifier(criterion=criterion, random_state=0)
    ref = tree.DecisionTreeClassifier(criterion=criterion, random_state=0)
    assert_close_accuracy(ours, ref, X, y)
    depth_limited = gc.DecisionTreeClassifier(criterion=criterion, max_depth=3, min_samples_leaf=5)
    assert_close_accuracy(
        depth_limited,
        tree.DecisionTreeClassifier(criterion=criterion, max_depth=3, min_samples_leaf=5),
        X,
        y,
        floor=0.4,  # depth 3 has at most 8 leaves: digits' 10 classes cannot all be reached
    )


@pytest.mark.parametrize("name", SMALL)
def test_decision_tree_structure(tables, name):
    """Fully grown on the training set, the trees have the same size, depth and importances."""
    X, y = tables[name]
    ours, ref = gc.DecisionTreeClassifier().fit(X, y), tree.DecisionTreeClassifier(random_state=0).fit(X, y)
    assert ours.max_depth_ == ref.get_depth()
    assert abs(ours.node_count_ - ref.tree_.node_count) <= 4
    assert ours.feature_importances_.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("name", SMALL)
def test_decision_tree_regressor(tables, name):
    X = tables[name][0]
    X, target = X[:, 1:], X[:, 0]
    for depth in (2, 4):
        ours = gc.DecisionTreeRegressor(max_depth=depth).fit(X, target)
        ref = tree.DecisionTreeRegressor(max_depth=depth, random_state=0).fit(X, target)
        assert ours.score(X, target) == pytest.approx(ref.score(X, target), abs=0.01)


@pytest.mark.parametrize(
    "name",
    [
        "iris",
        "wine",
        pytest.param("breast_cancer", marks=pytest.mark.slow),
        pytest.param("digits", marks=pytest.mark.slow),
    ],
)
def test_random_forest(tables, name):
    X, y = tables[name]
    n = 100 if name in ("breast_cancer", "digits") else 30
    ours = gc.RandomForestClassifier(n_estimators=n, random_state=0)
    assert_close_accuracy(ours, ensemble.RandomForestClassifier(n_estimators=n, random_state=0), X, y)


def test_random_forest_without_bootstrap_uses_all_rows(tables):
    X, y = tables["iris"]
    forest = gc.RandomForestClassifier(
        n_estimators=5, bootstrap=False, max_features=None, random_state=0
    ).fit(X, y)
    single = gc.DecisionTreeClassifier().fit(X, y)
    np.testing.assert_array_equal(forest.predict(X), single.predict(X))


@pytest.mark.parametrize("name", slow_on_digits(DATASETS))
@pytest.mark.parametrize("kernel", ["linear", "poly", "rbf"])
def test_svc(scaled_tables, name, kernel):
    X, y = scaled_tables[name]
    assert_close_accuracy(gc.SVC(kernel=kernel), svm.SVC(kernel=kernel), X, y)


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_svc_decision_function_and_support(scaled_tables, kernel):
    """Same dual problem to the same tolerance: same support vectors and near-equal decisions."""
    X, y = scaled_tables["wine"]
    ours, ref = (
        gc.SVC(kernel=kernel, C=2.0, gamma=0.05).fit(X, y),
        svm.SVC(kernel=kernel, C=2.0, gamma=0.05).fit(X, y),
    )
    np.testing.assert_array_equal(ours.support_, np.sort(ref.support_))
    np.testing.assert_allclose(ours.decision_function(X), ref.decision_function(X), atol=5e-3)
    Xb, yb = scaled_tables["breast_cancer"]
    ours, ref = gc.SVC(kernel=kernel).fit(Xb, yb), svm.SVC(kernel=kernel).fit(Xb, yb)
    np.testing.assert_allclose(ours.decision_function(Xb), ref.decision_function(Xb), atol=5e-3)
