"""Lasso and elastic net by cyclic coordinate descent.

Objective (scikit-learn's scaling), with rho = l1_ratio:

    (1 / 2n) ||y - Xw||^2 + alpha * rho * ||w||_1 + (alpha * (1 - rho) / 2) ||w||^2

Fixing every coordinate but w_j, the problem in w_j is a 1-D quadratic plus |w_j|, solved exactly by
soft-thresholding:  w_j = S(c_j, n alpha rho) / (G_jj + n alpha (1 - rho)),
where G = X^T X, c_j = X_j^T (y - X w + X_j w_j) and S(z, t) = sign(z) max(|z| - t, 0).
We keep g = X^T y - G w up to date (one axpy per changed coordinate), so c_j = g_j + G_jj w_j.
Convergence is checked with the duality gap, a certificate of how far w is from the optimum.
"""

from __future__ import annotations

import math

import numpy as np

from groundup.classic.linear import LinearModel, center
from groundup.classic.validation import check_positive, check_X_y


def enet_coordinate_descent(X, y, alpha, l1_ratio, max_iter, tol):
    """Minimize the elastic-net objective on centered X (n, p), y (n,); returns (w, n_sweeps, gap)."""
    n, p = X.shape
    l1, l2 = n * alpha * l1_ratio, n * alpha * (1 - l1_ratio)
    gram, xty = X.T @ X, X.T @ y  # (p, p), (p,)
    diag = np.diag(gram).tolist()  # Python floats: the scalar work below is cheaper outside NumPy
    w = [0.0] * p
    g = xty.copy()  # X^T (y - X w)
    gap_tol = tol * (y @ y)
    gap = np.inf
    for sweep in range(1, max_iter + 1):
        largest_step, largest_w = 0.0, 0.0
        for j in range(p):
            if diag[j] == 0.0:  # a constant (zero after centering) column never moves
                continue
            old = w[j]
            c = float(g[j]) + diag[j] * old
            new = math.copysign(max(abs(c) - l1, 0.0), c) / (diag[j] + l2)
            if new != old:
                w[j] = new
                g -= (new - old) * gram[j]  # (p,) keep X^T r current
            largest_step, largest_w = max(largest_step, abs(new - old)), max(largest_w, abs(new))
        if largest_w == 0.0 or largest_step / largest_w < tol or sweep == max_iter:
            gap = duality_gap(X, y, np.array(w), l1, l2)
            if gap < gap_tol:
                return np.array(w), sweep, gap
    return np.array(w), max_iter, gap


def duality_gap(X, y, w, l1, l2) -> float:
    """Primal minus dual objective (n-scaled problem); zero exactly at the optimum.

    The dual point is the residual r = y - Xw, rescaled so that ||X^T r - l2 w||_inf <= l1 (feasible).
    """
    r = y - X @ w
    correlation = X.T @ r - l2 * w
    dual_norm = np.max(np.abs(correlation))
    scale = min(1.0, l1 / dual_norm) if dual_norm > 0 else 1.0
    r2, w2 = r @ r, w @ w
    return float(
        0.5 * r2 * (1 + scale**2) + l1 * np.abs(w).sum() - scale * (r @ y) + 0.5 * l2 * (1 + scale**2) * w2
    )


class ElasticNet(LinearModel):
    """Elastic net: L1 (sparsity) plus L2 (grouping of correlated features) penalties, see module doc."""

    def __init__(self, alpha=1.0, l1_ratio=0.5, fit_intercept=True, max_iter=1000, tol=1e-4):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y):
        check_positive("alpha", self.alpha, allow_zero=True)
        if not 0 <= self.l1_ratio <= 1:
            raise ValueError(f"l1_ratio must be in [0, 1], got {self.l1_ratio!r}")
        X, y = check_X_y(X, y, estimator=self)
        self.n_features_in_ = X.shape[1]
        Xc, yc, X_mean, y_mean = center(X, y, self.fit_intercept)
        w, self.n_iter_, self.dual_gap_ = enet_coordinate_descent(
            Xc, yc, self.alpha, self.l1_ratio, self.max_iter, self.tol
        )
        self.set_solution(w, X_mean, y_mean)
        return self


class Lasso(ElasticNet):
    """Elastic net with l1_ratio = 1: (1 / 2n) ||y - Xw||^2 + alpha ||w||_1."""

    def __init__(self, alpha=1.0, fit_intercept=True, max_iter=1000, tol=1e-4):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol

    @property
    def l1_ratio(self) -> float:
        return 1.0
