"""Gaussian mixture model fitted by expectation-maximization (EM).

p(x) = sum_k pi_k N(x; mu_k, Sigma_k).  E-step: responsibilities r_ik = p(k | x_i), computed in log
space. M-step: N_k = sum_i r_ik, pi_k = N_k / n, mu_k = sum_i r_ik x_i / N_k,
Sigma_k = sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T / N_k + reg_covar I (diagonal: only the variances).
Each EM round cannot lower the average log-likelihood; we stop when it rises by less than tol.
BIC = -2 log L + (number of free parameters) log n trades fit against size when choosing K.
"""

from __future__ import annotations

import numbers

import numpy as np

from groundup.classic.base import BaseEstimator
from groundup.classic.cluster import KMeans
from groundup.classic.naive_bayes import log_sum_exp
from groundup.classic.validation import check_array, check_choice, check_features, check_random_state


class GaussianMixture(BaseEstimator):
    """EM for a mixture of Gaussians with full or diagonal covariances; init from k-means or random."""

    def __init__(
        self,
        n_components=1,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state

    def tag_overrides(self) -> dict:
        return {**super().tag_overrides(), "estimator_type": "density_estimator"}

    def fit(self, X, y=None):
        check_choice("covariance_type", self.covariance_type, ("full", "diag"))
        check_choice("init_params", self.init_params, ("kmeans", "random"))
        if not isinstance(self.n_components, numbers.Integral) or self.n_components < 1:
            raise ValueError(f"n_components must be a positive integer, got {self.n_components!r}")
        X = check_array(X, min_samples=max(2, self.n_components))
        self.n_features_in_ = X.shape[1]
        rng = check_random_state(self.random_state)
        best = None
        for _ in range(self.n_init):
            self.initialize(X, rng)
            lower_bound, self.converged_ = -np.inf, False
            for n_iter in range(1, self.max_iter + 1):  # noqa: B007 (the count is kept)
                previous = lower_bound
                log_resp, lower_bound = self.e_step(X)
                self.m_step(X, np.exp(log_resp))
                if abs(lower_bound - previous) < self.tol:
                    self.converged_ = True
                    break
            if best is None or lower_bound > best[0]:
                best = (lower_bound, n_iter, self.converged_, self.weights_, self.means_, self.covariances_)
        self.lower_bound_, self.n_iter_, self.converged_, self.weights_, self.means_, self.covariances_ = best
        return self

    def initialize(self, X, rng) -> None:
        n, K = len(X), self.n_components
        if self.init_params == "kmeans":
            labels = KMeans(K, n_init=1, random_state=rng).fit(X).labels_
            resp = np.eye(K)[labels]  # (n, K) hard assignments
        else:
            resp = rng.uniform(size=(n, K))
            resp /= resp.sum(axis=1, keepdims=True)
        self.m_step(X, resp)
        if self.weights_init is not None:
            self.weights_ = np.asarray(self.weights_init, dtype=np.float64)
        if self.means_init is not None:
            self.means_ = np.asarray(self.means_init, dtype=np.float64)
        if self.precisions_init is not None:
            precisions = np.asarray(self.precisions_init, dtype=np.float64)
            self.covariances_ = (
                np.linalg.inv(precisions) if self.covariance_type == "full" else 1 / precisions
            )

    def m_step(self, X, resp) -> None:
        counts = resp.sum(axis=0) + 10 * np.finfo(np.float64).eps  # (K,), never exactly 0
        self.weights_ = counts / len(X)
        self.means_ = resp.T @ X / counts[:, None]  # (K, p)
        if self.covariance_type == "full":
            cov = np.empty((self.n_components, X.shape[1], X.shape[1]))
            for k in range(self.n_components):
                diff = X - self.means_[k]  # (n, p)
                cov[k] = (resp[:, k, None] * diff).T @ diff / counts[k]
                cov[k].flat[:: X.shape[1] + 1] += self.reg_covar
        else:
            sq = resp.T @ X**2 / counts[:, None]  # E_k[x^2], (K, p)
            cov = np.maximum(sq - self.means_**2, 0) + self.reg_covar
        self.covariances_ = cov

    def log_gaussians(self, X) -> np.ndarray:
        """(n, K) log N(x_i; mu_k, Sigma_k)."""
        n, p = X.shape
        out = np.empty((n, self.n_components))
        for k in range(self.n_components):
            diff = X - self.means_[k]
            if self.covariance_type == "full":
                L = np.linalg.cholesky(self.covariances_[k])  # Sigma = L L^T
                z = np.linalg.solve(L, diff.T)  # (p, n): whitened residuals
                log_det = 2 * np.log(np.diag(L)).sum()
                maha = np.einsum("ij,ij->j", z, z)
            else:
                var = self.covariances_[k]
                log_det, maha = np.log(var).sum(), (diff**2 / var).sum(axis=1)
            out[:, k] = -0.5 * (p * np.log(2 * np.pi) + log_det + maha)
        return out

    def weighted_log_prob(self, X) -> np.ndarray:
        return self.log_gaussians(X) + np.log(self.weights_)

    def e_step(self, X):
        """(log responsibilities (n, K), average log-likelihood)."""
        weighted = self.weighted_log_prob(X)
        log_norm = log_sum_exp(weighted)
        return weighted - log_norm[:, None], float(log_norm.mean())

    def score_samples(self, X) -> np.ndarray:
        """log p(x) for each sample."""
        return log_sum_exp(self.weighted_log_prob(check_features(self, X)))

    def score(self, X, y=None) -> float:
        """Average log-likelihood per sample."""
        return float(self.score_samples(X).mean())

    def predict_proba(self, X) -> np.ndarray:
        weighted = self.weighted_log_prob(check_features(self, X))
        return np.exp(weighted - log_sum_exp(weighted)[:, None])

    def predict(self, X) -> np.ndarray:
        return self.weighted_log_prob(check_features(self, X)).argmax(axis=1)

    def n_parameters(self) -> int:
        K, p = self.means_.shape
        cov = K * p * (p + 1) // 2 if self.covariance_type == "full" else K * p
        return cov + K * p + K - 1

    def bic(self, X) -> float:
        X = check_features(self, X)
        return -2 * self.score(X) * len(X) + self.n_parameters() * np.log(len(X))

    def aic(self, X) -> float:
        X = check_features(self, X)
        return -2 * self.score(X) * len(X) + 2 * self.n_parameters()
