"""Naive Bayes: p(y | x) is proportional to p(y) * prod_j p(x_j | y), features independent given the class.

GaussianNB models each p(x_j | y=k) as a normal N(theta_kj, var_kj); MultinomialNB models counts x
as draws from a per-class categorical over features, with Laplace/Lidstone smoothing alpha.
Both work in log space: the joint log-likelihood jll_k(x) = log p(y=k) + sum_j log p(x_j | y=k),
normalized with log-sum-exp into probabilities.
"""

from __future__ import annotations

import numpy as np

from groundup.classic.base import BaseEstimator, ClassifierMixin
from groundup.classic.validation import check_features, check_positive, check_X_y, encode_labels


def log_sum_exp(A: np.ndarray) -> np.ndarray:
    top = A.max(axis=1, keepdims=True)  # (n, 1)
    return top[:, 0] + np.log(np.exp(A - top).sum(axis=1))


class NaiveBayes(ClassifierMixin, BaseEstimator):
    """Shared prediction from `joint_log_likelihood` (n, K)."""

    def predict(self, X) -> np.ndarray:
        jll = self.joint_log_likelihood(check_features(self, X))
        return self.classes_[jll.argmax(axis=1)]

    def predict_log_proba(self, X) -> np.ndarray:
        jll = self.joint_log_likelihood(check_features(self, X))
        return jll - log_sum_exp(jll)[:, None]

    def predict_proba(self, X) -> np.ndarray:
        return np.exp(self.predict_log_proba(X))

    def fit_labels(self, X, y):
        X, y = check_X_y(X, y, estimator=self, classifier=True)
        self.classes_, codes = encode_labels(y)
        self.n_features_in_ = X.shape[1]
        onehot = np.eye(len(self.classes_))[codes]  # (n, K)
        self.class_count_ = onehot.sum(axis=0)
        return X, onehot


class GaussianNB(NaiveBayes):
    """Per-class feature means and variances; var_smoothing * (largest feature variance) is added to
    every variance so that a constant feature does not produce a zero variance."""

    def __init__(self, var_smoothing=1e-9, priors=None):
        self.var_smoothing = var_smoothing
        self.priors = priors

    def fit(self, X, y):
        check_positive("var_smoothing", self.var_smoothing, allow_zero=True)
        X, onehot = self.fit_labels(X, y)
        counts = self.class_count_[:, None]  # (K, 1)
        self.theta_ = onehot.T @ X / counts  # (K, p)
        centered = [X[onehot[:, k] > 0] - self.theta_[k] for k in range(len(self.classes_))]
        self.var_ = np.array([np.mean(c**2, axis=0) for c in centered])  # (K, p)
        self.epsilon_ = self.var_smoothing * np.var(X, axis=0).max()
        self.var_ = self.var_ + self.epsilon_
        if self.priors is None:
            self.class_prior_ = self.class_count_ / self.class_count_.sum()
        else:
            priors = np.asarray(self.priors, dtype=np.float64)
            if len(priors) != len(self.classes_) or not np.isclose(priors.sum(), 1.0) or (priors < 0).any():
                raise ValueError(f"priors must be {len(self.classes_)} non-negative numbers summing to 1")
            self.class_prior_ = priors
        return self

    def joint_log_likelihood(self, X) -> np.ndarray:
        # log N(x; mu, var) = -0.5 log(2 pi var) - (x - mu)^2 / (2 var), summed over features
        log_norm = -0.5 * np.sum(np.log(2 * np.pi * self.var_), axis=1)  # (K,)
        sq = ((X[:, None, :] - self.theta_[None]) ** 2 / self.var_[None]).sum(axis=2)  # (n, K)
        return np.log(self.class_prior_) + log_norm - 0.5 * sq


class MultinomialNB(NaiveBayes):
    """Counts per class and feature, smoothed: p(j | k) = (N_kj + alpha) / (N_k + alpha p)."""

    def __init__(self, alpha=1.0, fit_prior=True):
        self.alpha = alpha
        self.fit_prior = fit_prior

    def tag_overrides(self) -> dict:
        return {**super().tag_overrides(), "positive_only": True, "poor_score": True}  # as scikit-learn's

    def fit(self, X, y):
        check_positive("alpha", self.alpha, allow_zero=True)
        X, onehot = self.fit_labels(X, y)
        if (X < 0).any():
            raise ValueError("Negative values in data passed to MultinomialNB (input X); it needs counts")
        self.feature_count_ = onehot.T @ X  # (K, p)
        smoothed = self.feature_count_ + max(self.alpha, 1e-10)
        self.feature_log_prob_ = np.log(smoothed) - np.log(smoothed.sum(axis=1, keepdims=True))
        K = len(self.classes_)
        prior = self.class_count_ / self.class_count_.sum() if self.fit_prior else np.full(K, 1 / K)
        self.class_log_prior_ = np.log(prior)
        return self

    def joint_log_likelihood(self, X) -> np.ndarray:
        if (X < 0).any():
            raise ValueError("Negative values in data passed to MultinomialNB (input X); it needs counts")
        return X @ self.feature_log_prob_.T + self.class_log_prior_  # (n, K)
