"""The estimator/dataset grid shared by the benchmark (benchmarks/bench_classic.py) and the capstone
report (examples/classic/benchmark_report.py): for each case, our model and scikit-learn's with the
same hyperparameters, the data it runs on, and how it is scored."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import cluster, decomposition, ensemble, linear_model, mixture, naive_bayes, neighbors, svm, tree

import groundup.classic as gc
from groundup.data import load_sklearn

DATASETS = ("iris", "wine", "breast_cancer", "digits")


@dataclass
class Case:
    name: str
    kind: str  # classifier | regressor | cluster | mixture | decomposition
    ours: Callable[[], object]
    peer: Callable[[], object]
    scaled: bool = True
    goal: float = 3.0  # acceptable fit-time ratio ours / scikit-learn (issue: 3x vectorized, 10x trees/SVC)


CASES = [
    Case("LinearRegression", "regressor", gc.LinearRegression, linear_model.LinearRegression),
    Case("Ridge", "regressor", lambda: gc.Ridge(1.0), lambda: linear_model.Ridge(1.0)),
    Case("Lasso", "regressor", lambda: gc.Lasso(0.01), lambda: linear_model.Lasso(alpha=0.01)),
    Case(
        "ElasticNet",
        "regressor",
        lambda: gc.ElasticNet(0.01, l1_ratio=0.5),
        lambda: linear_model.ElasticNet(alpha=0.01, l1_ratio=0.5),
    ),
    Case(
        "LogisticRegression",
        "classifier",
        gc.LogisticRegression,
        lambda: linear_model.LogisticRegression(max_iter=1000),
    ),
    Case("GaussianNB", "classifier", gc.GaussianNB, naive_bayes.GaussianNB, scaled=False),
    Case("MultinomialNB", "classifier", gc.MultinomialNB, naive_bayes.MultinomialNB, scaled=False),
    Case("KNeighborsClassifier", "classifier", gc.KNeighborsClassifier, neighbors.KNeighborsClassifier),
    Case(
        "DecisionTreeClassifier",
        "classifier",
        lambda: gc.DecisionTreeClassifier(random_state=0),
        lambda: tree.DecisionTreeClassifier(random_state=0),
        scaled=False,
        goal=10.0,
    ),
    Case(
        "RandomForestClassifier",
        "classifier",
        lambda: gc.RandomForestClassifier(100, random_state=0),
        lambda: ensemble.RandomForestClassifier(100, random_state=0),
        scaled=False,
        goal=10.0,
    ),
    Case("SVC", "classifier", gc.SVC, svm.SVC, goal=10.0),
    Case(
        "KMeans",
        "cluster",
        lambda: gc.KMeans(8, n_init=1, random_state=0),
        lambda: cluster.KMeans(8, n_init=1, random_state=0),
    ),
    Case(
        "GaussianMixture",
        "mixture",
        lambda: gc.GaussianMixture(3, covariance_type="diag", random_state=0),
        lambda: mixture.GaussianMixture(3, covariance_type="diag", random_state=0),
    ),
    Case("PCA", "decomposition", lambda: gc.PCA(2), lambda: decomposition.PCA(2, svd_solver="full")),
]


def load(name: str, scaled: bool) -> tuple[np.ndarray, np.ndarray]:
    X, y = load_sklearn(name)
    if scaled:
        std = X.std(axis=0)
        X = (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)
    return X, y


def problem(case: Case, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The (X, y) a case fits on: regressors predict the first varying column from the others."""
    X, y = load(name, case.scaled)
    if case.kind == "regressor":
        first = int(np.flatnonzero(X.std(axis=0) > 0)[0])
        return np.delete(X, first, axis=1), X[:, first]
    return X, (y if case.kind == "classifier" else None)


def score(case: Case, model, X, y) -> float:
    """Training-set score: accuracy, R^2, -inertia, average log-likelihood or explained variance."""
    if case.kind in ("classifier", "regressor"):
        return float(model.score(X, y))
    if case.kind == "cluster":
        return -float(model.inertia_)
    if case.kind == "mixture":
        return float(model.score(X))
    return float(np.sum(model.explained_variance_ratio_))


def fit(make: Callable[[], object], X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter from either library
        return make().fit(X, y)
