"""k-nearest neighbours: predict from the k training points closest to x (Euclidean distance).

Brute force, vectorized: squared distances ||a - b||^2 = ||a||^2 - 2 a.b + ||b||^2 for a whole block
of queries at once (one matrix product), then `argpartition` for the k smallest per row. Ties are
left to `argpartition`, as in scikit-learn's brute-force search, so a tied k-th neighbour may
differ between the two.
"""

from __future__ import annotations

import numbers

import numpy as np

from groundup.classic.base import BaseEstimator, ClassifierMixin, RegressorMixin
from groundup.classic.validation import check_choice, check_features, check_X_y, encode_labels

BLOCK = 2048  # queries per distance block: bounds memory at BLOCK * n_train floats


class KNeighbors(BaseEstimator):
    def __init__(self, n_neighbors=5, weights="uniform"):
        self.n_neighbors = n_neighbors
        self.weights = weights

    def store(self, X, y, classifier: bool):
        check_choice("weights", self.weights, ("uniform", "distance"))
        if not isinstance(self.n_neighbors, numbers.Integral) or self.n_neighbors < 1:
            raise ValueError(f"n_neighbors must be a positive integer, got {self.n_neighbors!r}")
        X, y = check_X_y(X, y, estimator=self, classifier=classifier)
        if self.n_neighbors > len(X):
            raise ValueError(
                f"n_neighbors={self.n_neighbors} is larger than n_samples = {len(X)}; lower n_neighbors"
            )
        self.fit_X_, self.n_features_in_ = X, X.shape[1]
        self.sq_norms_ = np.einsum("ij,ij->i", X, X)
        return y

    def kneighbors(self, X, n_neighbors=None):
        """(distances, indices), each (n_queries, k), nearest first."""
        X = check_features(self, X)
        k = n_neighbors or self.n_neighbors
        all_dist, all_idx = [], []
        for start in range(0, len(X), BLOCK):
            Q = X[start : start + BLOCK]
            d2 = np.einsum("ij,ij->i", Q, Q)[:, None] - 2 * Q @ self.fit_X_.T + self.sq_norms_[None]
            np.maximum(d2, 0, out=d2)  # (q, n): rounding can make tiny distances negative
            if k < d2.shape[1]:
                part = np.argpartition(d2, k - 1, axis=1)[:, :k]  # (q, k) the k nearest, unordered
                within = np.argsort(np.take_along_axis(d2, part, axis=1), axis=1, kind="stable")
                order = np.take_along_axis(part, within, axis=1)  # (q, k) nearest first
            else:
                order = np.argsort(d2, axis=1, kind="stable")
            all_idx.append(order)
            all_dist.append(np.sqrt(np.take_along_axis(d2, order, axis=1)))
        return np.vstack(all_dist), np.vstack(all_idx)

    def neighbour_weights(self, distances: np.ndarray) -> np.ndarray:
        if self.weights == "uniform":
            return np.ones_like(distances)
        with np.errstate(divide="ignore"):
            w = 1.0 / distances
        exact = np.isinf(w)  # a query equal to a training point: only the exact matches vote
        rows = exact.any(axis=1)
        w[rows] = exact[rows].astype(np.float64)
        return w


class KNeighborsClassifier(ClassifierMixin, KNeighbors):
    """Majority (or distance-weighted) vote of the k nearest training labels."""

    def fit(self, X, y):
        y = self.store(X, y, classifier=True)
        self.classes_, self.codes_ = encode_labels(y)
        return self

    def predict_proba(self, X) -> np.ndarray:
        distances, idx = self.kneighbors(X)
        w = self.neighbour_weights(distances)  # (q, k)
        votes = np.zeros((len(idx), len(self.classes_)))
        np.add.at(votes, (np.arange(len(idx))[:, None], self.codes_[idx]), w)
        return votes / votes.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


class KNeighborsRegressor(RegressorMixin, KNeighbors):
    """Mean (or distance-weighted mean) of the k nearest training targets."""

    def fit(self, X, y):
        self.y_ = self.store(X, y, classifier=False)
        return self

    def predict(self, X) -> np.ndarray:
        distances, idx = self.kneighbors(X)
        w = self.neighbour_weights(distances)
        return (w * self.y_[idx]).sum(axis=1) / w.sum(axis=1)
