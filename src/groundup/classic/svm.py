"""Support vector classifier trained by sequential minimal optimization (SMO).

Dual problem for labels y in {-1, +1}, kernel K and Q_ij = y_i y_j K_ij:

    minimize 1/2 a^T Q a - sum_i a_i   subject to 0 <= a_i <= C,  y^T a = 0.

SMO changes two multipliers at a time (the fewest that keep y^T a = 0), which has a closed-form
solution. The pair is the maximal-violating pair with second-order selection of the partner
(Fan, Chen & Lin, 2005 -- libsvm's rule). We stop when the KKT violation m - M falls below tol.
Multi-class problems are split one-vs-one (one binary SVM per pair of classes), with votes.
"""

from __future__ import annotations

import numpy as np

from groundup.classic.base import BaseEstimator, ClassifierMixin
from groundup.classic.validation import check_choice, check_features, check_positive, check_X_y, encode_labels

TAU = 1e-12  # curvature floor for non-positive-definite pairs


def kernel_matrix(A: np.ndarray, B: np.ndarray, kernel: str, gamma: float, degree: int, coef0: float):
    """(len(A), len(B)) kernel values: linear a.b, poly (gamma a.b + coef0)^degree, rbf exp(-gamma |a-b|^2)."""
    dot = A @ B.T
    if kernel == "linear":
        return dot
    if kernel == "poly":
        return (gamma * dot + coef0) ** degree
    sq = np.einsum("ij,ij->i", A, A)[:, None] - 2 * dot + np.einsum("ij,ij->i", B, B)[None]
    return np.exp(-gamma * np.maximum(sq, 0))


def smo(K: np.ndarray, y: np.ndarray, C: float, tol: float, max_iter: int):
    """Solve the dual for one binary problem; returns (alpha, bias, iterations). y in {-1, +1}."""
    n = len(y)
    alpha = np.zeros(n)
    grad = -np.ones(n)  # gradient of the dual objective, Q a - 1
    diag = np.diag(K).copy()
    positive = y > 0
    iteration = 0
    while max_iter < 0 or iteration < max_iter:
        iteration += 1
        violation = -y * grad  # (n,) how much each multiplier wants to move
        up = np.where(positive, alpha < C, alpha > 0)  # may increase y_t a_t
        low = np.where(positive, alpha > 0, alpha < C)  # may decrease y_t a_t
        i = np.flatnonzero(up)[np.argmax(violation[up])]
        m, M = violation[i], violation[low].min()
        if m - M < tol:
            break
        # second-order partner: among candidates with violation < m, the largest objective decrease
        gain = m - violation
        curvature = diag[i] + diag - 2 * K[i]
        curvature = np.where(curvature > 0, curvature, TAU)
        score = np.where(low & (gain > 0), -(gain**2) / curvature, np.inf)
        j = int(np.argmin(score))
        # move a_i by y_i * step and a_j by -y_j * step: keeps y^T a fixed, lowers the objective
        step = gain[j] / curvature[j]
        step = min(step, C - alpha[i] if positive[i] else alpha[i], alpha[j] if positive[j] else C - alpha[j])
        delta_i, delta_j = y[i] * step, -y[j] * step
        alpha[i] += delta_i
        alpha[j] += delta_j
        grad += y * (K[i] * (y[i] * delta_i) + K[j] * (y[j] * delta_j))
    return alpha, bias(alpha, grad, y, C), iteration


def bias(alpha, grad, y, C) -> float:
    """Intercept b (decision = sum a_i y_i K(x_i, x) + b) from the KKT conditions."""
    free = (alpha > 0) & (alpha < C)
    yg = y * grad
    if free.any():
        return float(-yg[free].mean())
    positive = y > 0
    at_upper, at_lower = alpha >= C, alpha <= 0
    ub_set = (at_upper & ~positive) | (at_lower & positive)
    lb_set = (at_upper & positive) | (at_lower & ~positive)
    ub = yg[ub_set].min() if ub_set.any() else np.inf
    lb = yg[lb_set].max() if lb_set.any() else -np.inf
    return float(-(ub + lb) / 2)


class SVC(ClassifierMixin, BaseEstimator):
    """C-support vector classifier (linear, poly or RBF kernel), one-vs-one for several classes."""

    def __init__(self, C=1.0, kernel="rbf", degree=3, gamma="scale", coef0=0.0, tol=1e-3, max_iter=-1):
        self.C = C
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.tol = tol
        self.max_iter = max_iter

    def resolve_gamma(self, X) -> float:
        if self.gamma == "scale":
            var = X.var()
            return 1.0 / (X.shape[1] * var) if var > 0 else 1.0
        if self.gamma == "auto":
            return 1.0 / X.shape[1]
        check_positive("gamma", self.gamma)
        return float(self.gamma)

    def fit(self, X, y):
        check_choice("kernel", self.kernel, ("linear", "poly", "rbf"))
        check_positive("C", self.C)
        X, y = check_X_y(X, y, estimator=self, classifier=True)
        self.classes_, codes = encode_labels(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"SVC needs samples of at least 2 classes; the data has one class: {self.classes_[0]!r}"
            )
        self.n_features_in_ = X.shape[1]
        self.gamma_ = self.resolve_gamma(X)
        K_full = self.kernel_with(X, X)
        pairs, n_iter, used = [], [], np.zeros(len(X), bool)
        for a in range(len(self.classes_)):
            for b in range(a + 1, len(self.classes_)):
                rows = np.flatnonzero((codes == a) | (codes == b))
                signs = np.where(codes[rows] == a, 1.0, -1.0)  # class a is +1, as in libsvm
                alpha, b0, iters = smo(K_full[np.ix_(rows, rows)], signs, self.C, self.tol, self.max_iter)
                sv = alpha > 0
                pairs.append((rows[sv], alpha[sv] * signs[sv], b0))
                used[rows[sv]] = True
                n_iter.append(iters)
        self.support_ = np.flatnonzero(used)
        self.support_vectors_ = X[self.support_]
        position = np.full(len(X), -1)
        position[self.support_] = np.arange(len(self.support_))
        self.pairs_ = [
            (position[rows], coef, b0) for rows, coef, b0 in pairs
        ]  # indices into support_vectors_
        self.intercept_ = np.array([b0 for _, _, b0 in pairs])
        self.n_iter_ = np.array(n_iter)
        return self

    def kernel_with(self, A, B):
        return kernel_matrix(A, B, self.kernel, self.gamma_, self.degree, self.coef0)

    def pair_decisions(self, X) -> np.ndarray:
        """(n, n_pairs) one-vs-one decision values; positive favours the pair's first class."""
        X = check_features(self, X)
        K = self.kernel_with(X, self.support_vectors_)  # (n, n_sv)
        return np.column_stack([K[:, idx] @ coef + b0 for idx, coef, b0 in self.pairs_])

    def decision_function(self, X) -> np.ndarray:
        """Binary: (n,), positive means classes_[1]. Multi-class: (n, K) votes plus a confidence term
        in (-1/3, 1/3), so ranking matches the vote but ties break by summed decision values."""
        f = self.pair_decisions(X)
        K = len(self.classes_)
        if K == 2:
            return -f[:, 0]
        votes, confidence = np.zeros((len(f), K)), np.zeros((len(f), K))
        column = 0
        for a in range(K):
            for b in range(a + 1, K):
                votes[:, a] += f[:, column] > 0
                votes[:, b] += f[:, column] <= 0
                confidence[:, a] += f[:, column]
                confidence[:, b] -= f[:, column]
                column += 1
        return votes + confidence / (3 * (np.abs(confidence) + 1))

    def predict(self, X) -> np.ndarray:
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]
