"""StandardScaler: subtract each feature's mean, divide by its standard deviation.

Gradient methods (logistic regression, linear regression by gradient descent), distances (KNN,
k-means, SVC with an RBF kernel) and penalties (ridge, lasso) all assume features on one scale.
"""

from __future__ import annotations

import numpy as np

from groundup.classic.base import BaseEstimator, TransformerMixin
from groundup.classic.validation import check_array, check_features


class StandardScaler(TransformerMixin, BaseEstimator):
    """z = (x - mean_) / scale_, where scale_ is the population standard deviation (1 if it is 0)."""

    def __init__(self, with_mean=True, with_std=True):
        self.with_mean = with_mean
        self.with_std = with_std

    def fit(self, X, y=None):
        X = check_array(X)
        self.n_features_in_ = X.shape[1]
        self.mean_ = X.mean(axis=0) if self.with_mean else np.zeros(X.shape[1])
        std = X.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0) if self.with_std else np.ones(X.shape[1])
        return self

    def transform(self, X) -> np.ndarray:
        X = check_features(self, X)
        return (X - self.mean_) / self.scale_

    def inverse_transform(self, X) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) * self.scale_ + self.mean_
