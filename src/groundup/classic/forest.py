"""Random forest: many decision trees, each grown on a bootstrap sample with a random feature subset
tried at every split; the forest averages their class probabilities.

Bootstrapping and feature subsampling decorrelate the trees, so averaging cuts variance while each
deep tree keeps its low bias (Breiman, 2001).
"""

from __future__ import annotations

import numbers

import numpy as np

from groundup.classic.base import BaseEstimator, ClassifierMixin
from groundup.classic.tree import DecisionTreeClassifier
from groundup.classic.validation import (
    check_choice,
    check_features,
    check_random_state,
    check_X_y,
    encode_labels,
)


class RandomForestClassifier(ClassifierMixin, BaseEstimator):
    def __init__(
        self,
        n_estimators=100,
        criterion="gini",
        max_depth=None,
        min_samples_split=2,
        min_samples_leaf=1,
        max_features="sqrt",
        bootstrap=True,
        random_state=None,
    ):
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.bootstrap = bootstrap
        self.random_state = random_state

    def tag_overrides(self) -> dict:
        return {**super().tag_overrides(), "non_deterministic": self.random_state is None}

    def fit(self, X, y):
        if not isinstance(self.n_estimators, numbers.Integral) or self.n_estimators < 1:
            raise ValueError(f"n_estimators must be a positive integer, got {self.n_estimators!r}")
        check_choice("criterion", self.criterion, ("gini", "entropy", "log_loss"))
        X, y = check_X_y(X, y, estimator=self, classifier=True)
        self.classes_, codes = encode_labels(y)
        self.n_features_in_ = X.shape[1]
        rng = check_random_state(self.random_state)
        n, K = len(X), len(self.classes_)
        self.estimators_ = []
        for _ in range(self.n_estimators):
            tree = DecisionTreeClassifier(
                criterion=self.criterion,
                max_depth=self.max_depth,
                min_samples_split=self.min_samples_split,
                min_samples_leaf=self.min_samples_leaf,
                max_features=self.max_features,
            )
            # A bootstrap sample as counts: each distinct row once, weighted by how often it was drawn.
            # Same impurities as repeating rows, ~37% fewer rows to sort (scikit-learn does the same).
            counts = np.bincount(rng.randint(0, n, n), minlength=n) if self.bootstrap else np.ones(n)
            rows = np.flatnonzero(counts)
            tree_rng = np.random.RandomState(rng.randint(2**31 - 1))
            tree.fit_encoded(X[rows], codes[rows], K, rng=tree_rng, weights=counts[rows].astype(np.float64))
            tree.classes_ = self.classes_
            self.estimators_.append(tree)
        self.feature_importances_ = np.mean([t.feature_importances_ for t in self.estimators_], axis=0)
        return self

    def predict_proba(self, X) -> np.ndarray:
        X = check_features(self, X)
        return np.mean([tree.predict_proba(X) for tree in self.estimators_], axis=0)  # (n, K)

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]
