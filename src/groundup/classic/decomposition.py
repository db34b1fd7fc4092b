"""Principal component analysis: the orthogonal directions of largest variance.

Center X (n, p). The covariance S = X^T X / (n - 1) has eigenpairs S v_k = lambda_k v_k; the
components are the v_k with the largest lambda_k (the explained variances). Equivalently, from the
thin SVD X = U diag(s) V^T: components are the rows of V^T and lambda_k = s_k^2 / (n - 1).
"eigh" works on the p x p covariance (cheap when n >> p); "svd" works on X itself (more accurate:
it never squares the condition number). Signs are arbitrary, so we fix them: the largest-magnitude
entry of each component is positive. whiten divides the projections by sqrt(lambda_k).
"""

from __future__ import annotations

import numbers

import numpy as np

from groundup.classic.base import BaseEstimator, TransformerMixin
from groundup.classic.validation import check_array, check_choice, check_features


class PCA(TransformerMixin, BaseEstimator):
    def __init__(self, n_components=None, svd_solver="svd", whiten=False):
        self.n_components = n_components
        self.svd_solver = svd_solver
        self.whiten = whiten

    def fit(self, X, y=None):
        check_choice("svd_solver", self.svd_solver, ("svd", "eigh"))
        X = check_array(X, min_samples=2)
        n, p = X.shape
        self.n_features_in_ = p
        self.mean_ = X.mean(axis=0)
        Xc = X - self.mean_
        if self.svd_solver == "eigh":
            values, vectors = np.linalg.eigh(Xc.T @ Xc / (n - 1))  # ascending
            variances = np.maximum(values[::-1], 0.0)
            components = vectors[:, ::-1].T  # (p, p), largest variance first
        else:
            _, s, components = np.linalg.svd(Xc, full_matrices=False)  # components: (min(n,p), p)
            variances = s**2 / (n - 1)
        k = self.resolve_n_components(variances, min(n, p))
        biggest = np.argmax(np.abs(components), axis=1)
        components = components * np.sign(components[np.arange(len(components)), biggest])[:, None]
        total = variances.sum() if self.svd_solver == "svd" else np.trace(Xc.T @ Xc) / (n - 1)
        self.components_ = components[:k]
        self.explained_variance_ = variances[:k]
        self.explained_variance_ratio_ = variances[:k] / total
        self.singular_values_ = np.sqrt(variances[:k] * (n - 1))
        self.n_components_ = k
        rest = variances[k : min(n, p)]
        self.noise_variance_ = float(rest.mean()) if len(rest) else 0.0
        return self

    def resolve_n_components(self, variances: np.ndarray, limit: int) -> int:
        k = self.n_components
        if k is None:
            return limit
        if isinstance(k, numbers.Integral) and 1 <= k <= limit:
            return int(k)
        if isinstance(k, float) and 0 < k < 1:  # keep enough components to explain this variance share
            ratio = np.cumsum(variances) / variances.sum()
            return int(np.searchsorted(ratio, k, side="right") + 1)
        raise ValueError(f"n_components must be None, an int in [1, {limit}] or a float in (0, 1), got {k!r}")

    def transform(self, X) -> np.ndarray:
        X = check_features(self, X)
        Z = (X - self.mean_) @ self.components_.T  # (n, k)
        return Z / np.sqrt(self.explained_variance_) if self.whiten else Z

    def inverse_transform(self, Z) -> np.ndarray:
        Z = np.asarray(Z, dtype=np.float64)
        if self.whiten:
            Z = Z * np.sqrt(self.explained_variance_)
        return Z @ self.components_ + self.mean_
