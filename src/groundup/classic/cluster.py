"""k-means (Lloyd's algorithm) with random or k-means++ initialization and several restarts.

Lloyd alternates two steps that each lower the inertia sum_i ||x_i - c_{label_i}||^2:
assign every point to its nearest center, then move every center to the mean of its points.
It stops when labels no longer change or the centers move less than tol (scaled by the data's mean
feature variance, so tol is unit-free). k-means++ (Arthur & Vassilvitskii, 2007) seeds centers far
apart: each new center is drawn with probability proportional to D(x)^2, the squared distance to
the nearest chosen center; like scikit-learn we draw 2 + log(k) candidates and keep the best.
"""

from __future__ import annotations

import numbers

import numpy as np

from groundup.classic.base import BaseEstimator, ClusterMixin, TransformerMixin
from groundup.classic.validation import check_array, check_features, check_random_state


def squared_distances(X: np.ndarray, C: np.ndarray, x_sq: np.ndarray | None = None) -> np.ndarray:
    """(n, k) squared Euclidean distances between the rows of X (n, p) and C (k, p)."""
    x_sq = np.einsum("ij,ij->i", X, X) if x_sq is None else x_sq
    d2 = x_sq[:, None] - 2 * X @ C.T + np.einsum("ij,ij->i", C, C)[None]
    return np.maximum(d2, 0, out=d2)


def kmeans_plus_plus(X, k, rng, x_sq) -> np.ndarray:
    n = len(X)
    trials = 2 + int(np.log(k))
    centers = [X[rng.randint(n)]]
    closest = squared_distances(X, centers[0][None], x_sq)[:, 0]  # (n,) D(x)^2
    for _ in range(1, k):
        cumulative = np.cumsum(closest)
        draws = np.searchsorted(cumulative, rng.uniform(size=trials) * cumulative[-1])
        draws = np.minimum(draws, n - 1)
        candidate_d2 = np.minimum(closest[None], squared_distances(X, X[draws], x_sq).T)  # (trials, n)
        best = np.argmin(candidate_d2.sum(axis=1))
        centers.append(X[draws[best]])
        closest = candidate_d2[best]
    return np.array(centers)


def lloyd(X, centers, max_iter, tol, x_sq):
    """Run Lloyd's iterations from `centers`; returns (centers, labels, inertia, n_iter)."""
    labels = None
    for iteration in range(1, max_iter + 1):  # noqa: B007 (the count is returned)
        d2 = squared_distances(X, centers, x_sq)
        new_labels = d2.argmin(axis=1)
        if labels is not None and np.array_equal(new_labels, labels):
            break  # assignments are stable: the centers below would not move
        labels = new_labels
        counts = np.bincount(labels, minlength=len(centers))
        onehot = np.zeros((len(X), len(centers)))
        onehot[np.arange(len(X)), labels] = 1.0
        sums = onehot.T @ X  # (k, p) per-cluster sums in one matrix product
        new_centers = sums / np.maximum(counts, 1)[:, None]
        empty = np.flatnonzero(counts == 0)
        if len(empty):  # reseat empty clusters on the points farthest from their own center
            far = np.argsort(-d2[np.arange(len(X)), labels])[: len(empty)]
            new_centers[empty] = X[far]
        shift = np.sum((new_centers - centers) ** 2)
        centers = new_centers
        if shift <= tol:
            break
    d2 = squared_distances(X, centers, x_sq)
    labels = d2.argmin(axis=1)
    return centers, labels, float(d2[np.arange(len(X)), labels].sum()), iteration


class KMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """k-means clustering; the best of n_init runs (lowest inertia) is kept."""

    def __init__(self, n_clusters=8, init="k-means++", n_init=10, max_iter=300, tol=1e-4, random_state=None):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, X, y=None):
        if not isinstance(self.n_clusters, numbers.Integral) or self.n_clusters < 1:
            raise ValueError(f"n_clusters must be a positive integer, got {self.n_clusters!r}")
        X = check_array(X, min_samples=self.n_clusters)
        self.n_features_in_ = X.shape[1]
        rng = check_random_state(self.random_state)
        x_sq = np.einsum("ij,ij->i", X, X)
        tol = self.tol * np.mean(np.var(X, axis=0))
        explicit = not isinstance(self.init, str)
        if explicit:
            start = np.asarray(self.init, dtype=np.float64)
            if start.shape != (self.n_clusters, X.shape[1]):
                raise ValueError(
                    f"init array has shape {start.shape}, expected (n_clusters, n_features) = "
                    f"{(self.n_clusters, X.shape[1])}"
                )
        elif self.init not in ("k-means++", "random"):
            raise ValueError(f"init must be 'k-means++', 'random' or an array, got {self.init!r}")
        best = None
        for _ in range(1 if explicit else self.n_init):
            if explicit:
                centers = start.copy()
            elif self.init == "k-means++":
                centers = kmeans_plus_plus(X, self.n_clusters, rng, x_sq)
            else:
                centers = X[rng.choice(len(X), self.n_clusters, replace=False)].copy()
            run = lloyd(X, centers, self.max_iter, tol, x_sq)
            if best is None or run[2] < best[2]:
                best = run
        self.cluster_centers_, self.labels_, self.inertia_, self.n_iter_ = best
        return self

    def predict(self, X) -> np.ndarray:
        X = check_features(self, X)
        return squared_distances(X, self.cluster_centers_).argmin(axis=1)

    def transform(self, X) -> np.ndarray:
        """Distances from each sample to each center, (n, n_clusters)."""
        X = check_features(self, X)
        return np.sqrt(squared_distances(X, self.cluster_centers_))

    def score(self, X, y=None) -> float:
        """Minus the inertia of X against the fitted centers (higher is better)."""
        return -float(np.min(self.transform(X) ** 2, axis=1).sum())
