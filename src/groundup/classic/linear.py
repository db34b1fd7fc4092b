"""Least squares: ordinary (normal equation or gradient descent) and ridge (L2-penalized).

With an intercept, both center X and y first: the intercept then separates out as
b = mean(y) - mean(X) @ w, and w solves the centered problem. That keeps the intercept unpenalized in
ridge, exactly as scikit-learn does.
"""

from __future__ import annotations

import numpy as np

from groundup.classic.base import BaseEstimator, RegressorMixin
from groundup.classic.validation import check_choice, check_features, check_positive, check_X_y


def center(X: np.ndarray, y: np.ndarray, fit_intercept: bool):
    """(Xc, yc, X_mean, y_mean): the data minus its column means (or untouched without an intercept)."""
    if not fit_intercept:
        return X, y, np.zeros(X.shape[1]), 0.0
    X_mean, y_mean = X.mean(axis=0), y.mean()
    return X - X_mean, y - y_mean, X_mean, y_mean


class LinearModel(RegressorMixin, BaseEstimator):
    """y_hat = X @ coef_ + intercept_ (shared by every linear regressor)."""

    def predict(self, X) -> np.ndarray:
        X = check_features(self, X)
        return X @ self.coef_ + self.intercept_

    def set_solution(self, w: np.ndarray, X_mean: np.ndarray, y_mean: float) -> None:
        self.coef_ = w
        self.intercept_ = float(y_mean - X_mean @ w) if self.fit_intercept else 0.0


class LinearRegression(LinearModel):
    """Ordinary least squares: minimize ||y - Xw - b||^2.

    solver="normal": the normal equation (X^T X) w = X^T y, solved through the eigendecomposition of
    X^T X so that a rank-deficient X (constant or duplicated columns) gets the minimum-norm solution,
    the same one `numpy.linalg.lstsq` and scikit-learn return. solver="gd": batch gradient descent on
    the mean squared error, see `gradient_descent`.
    """

    def __init__(self, fit_intercept=True, solver="normal", learning_rate=None, max_iter=10000, tol=1e-10):
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y):
        check_choice("solver", self.solver, ("normal", "gd"))
        X, y = check_X_y(X, y, estimator=self)
        self.n_features_in_ = X.shape[1]
        Xc, yc, X_mean, y_mean = center(X, y, self.fit_intercept)
        if self.solver == "normal":
            w, self.n_iter_ = normal_equation(Xc, yc), 1
        else:
            w, self.n_iter_ = gradient_descent(Xc, yc, self.learning_rate, self.max_iter, self.tol)
        self.set_solution(w, X_mean, y_mean)
        return self


def normal_equation(X: np.ndarray, y: np.ndarray, alpha: float = 0.0) -> np.ndarray:
    """Solve (X^T X + alpha I) w = X^T y; eigenvalues below a relative cutoff count as zero (pseudo-inverse)."""
    gram = X.T @ X  # (p, p)
    values, vectors = np.linalg.eigh(gram)
    values = values + alpha
    cutoff = max(values.max(), 0.0) * max(X.shape) * np.finfo(np.float64).eps
    inverse = np.where(values > cutoff, 1.0 / np.where(values > cutoff, values, 1.0), 0.0)
    # When alpha == 0 the cutoff drops directions X cannot see, giving lstsq's minimum-norm solution.
    return vectors @ (inverse * (vectors.T @ (X.T @ y)))


def gradient_descent(X: np.ndarray, y: np.ndarray, learning_rate, max_iter: int, tol: float):
    """Batch gradient descent on L(w) = ||y - Xw||^2 / (2n).

    Derivation: L(w) = (y - Xw)^T (y - Xw) / (2n). Expanding, the gradient is
    dL/dw = -X^T (y - Xw) / n = (X^T X w - X^T y) / n, and the step is w <- w - lr * dL/dw.
    L is convex with Hessian H = X^T X / n, so any lr < 2 / lambda_max(H) converges; we default to
    lr = 1 / lambda_max(H), which is safe, and stop when the step changes w by less than tol
    (relative to ||w||). Unscaled features make H ill-conditioned and convergence slow: the number of
    steps grows with lambda_max / lambda_min, which is why learners standardize features first.
    """
    n = len(X)
    gram, target = X.T @ X / n, X.T @ y / n  # (p, p), (p,): the gradient only needs these
    if learning_rate is None:
        learning_rate = 1.0 / max(np.linalg.eigvalsh(gram)[-1], np.finfo(np.float64).tiny)
    check_positive("learning_rate", learning_rate)
    w = np.zeros(X.shape[1])
    for step in range(1, max_iter + 1):
        update = learning_rate * (gram @ w - target)
        w = w - update
        if np.linalg.norm(update) <= tol * max(np.linalg.norm(w), 1.0):
            return w, step
    return w, max_iter


class Ridge(LinearModel):
    """L2-penalized least squares: minimize ||y - Xw - b||^2 + alpha ||w||^2 (intercept unpenalized)."""

    def __init__(self, alpha=1.0, fit_intercept=True):
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    def fit(self, X, y):
        check_positive("alpha", self.alpha, allow_zero=True)
        X, y = check_X_y(X, y, estimator=self)
        self.n_features_in_ = X.shape[1]
        Xc, yc, X_mean, y_mean = center(X, y, self.fit_intercept)
        p = X.shape[1]
        if self.alpha > 0:
            w = np.linalg.solve(Xc.T @ Xc + self.alpha * np.eye(p), Xc.T @ yc)  # (p,)
        else:
            w = normal_equation(Xc, yc)
        self.set_solution(w, X_mean, y_mean)
        return self
