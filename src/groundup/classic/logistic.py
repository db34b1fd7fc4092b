"""Logistic regression: binary (sigmoid) and multinomial (softmax), with L2, L1 or elastic-net penalty.

Objective, as in scikit-learn (rho = l1_ratio, the intercept is never penalized):

    C * sum_i -log p(y_i | x_i) + (1 - rho) / 2 * ||W||^2 + rho * ||W||_1

We minimize it divided by C n (same minimizer, better scaled). Solvers:
- "newton": Newton's method with a backtracking line search (smooth penalties: L2 or none). The
  Newton system H d = g is solved by conjugate gradients using Hessian-vector products
  X^T [P * U - P * rowsum(P * U)] / n (U = X V), so the K(p+1)-square Hessian is never formed.
- "gd": accelerated proximal gradient (FISTA): a gradient step on the smooth part, then the L1
  part's proximal map, soft-thresholding. Needed for L1 and elastic net, which are not differentiable.
"""

from __future__ import annotations

import numpy as np

from groundup.classic.base import BaseEstimator, ClassifierMixin
from groundup.classic.validation import (
    check_choice,
    check_features,
    check_positive,
    check_X_y,
    encode_labels,
)


def softmax(Z: np.ndarray) -> np.ndarray:
    Z = Z - Z.max(axis=1, keepdims=True)  # (n, K): shift for stability, softmax is shift-invariant
    E = np.exp(Z)
    return E / E.sum(axis=1, keepdims=True)


class LogisticRegression(ClassifierMixin, BaseEstimator):
    """Linear classifier with probabilities; see the module docstring for objective and solvers."""

    def __init__(
        self, penalty="l2", C=1.0, l1_ratio=None, solver="auto", fit_intercept=True, max_iter=1000, tol=1e-6
    ):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y):
        check_choice("penalty", self.penalty, ("l2", "l1", "elasticnet", None))
        check_choice("solver", self.solver, ("auto", "newton", "gd"))
        check_positive("C", self.C)
        rho = {"l2": 0.0, "l1": 1.0, None: 0.0}.get(self.penalty, self.l1_ratio)
        if rho is None or not 0 <= rho <= 1:
            raise ValueError(f"penalty='elasticnet' needs l1_ratio in [0, 1], got {self.l1_ratio!r}")
        solver = self.solver
        if solver == "auto":
            solver = "newton" if rho == 0 else "gd"
        if solver == "newton" and rho > 0:
            raise ValueError("solver='newton' needs a smooth penalty ('l2' or None); use solver='gd' for L1")
        X, y = check_X_y(X, y, estimator=self, classifier=True)
        self.classes_, codes = encode_labels(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"LogisticRegression needs samples of at least 2 classes, but the data contains only "
                f"one class: {self.classes_[0]!r}"
            )
        self.n_features_in_ = X.shape[1]
        n = len(X)
        Xa = np.column_stack([X, np.ones(n)]) if self.fit_intercept else X  # (n, d)
        binary = len(self.classes_) == 2
        Y = codes[:, None].astype(np.float64) if binary else np.eye(len(self.classes_))[codes]  # (n, K')
        scale = 1.0 if self.penalty is not None else 0.0
        problem = Problem(Xa, Y, binary, self.fit_intercept, l2=scale * (1 - rho) / (self.C * n))
        l1 = scale * rho / (self.C * n)
        theta0 = np.zeros((Xa.shape[1], Y.shape[1]))  # (d, K')
        if solver == "newton":
            theta, self.n_iter_ = newton(problem, theta0, self.max_iter, self.tol)
        else:
            theta, self.n_iter_ = fista(problem, theta0, l1, self.max_iter, self.tol)
        W, b = (theta[:-1], theta[-1]) if self.fit_intercept else (theta, np.zeros(theta.shape[1]))
        self.coef_, self.intercept_ = W.T.copy(), b.copy()  # (K', p), (K',)
        return self

    def decision_function(self, X) -> np.ndarray:
        X = check_features(self, X)
        scores = X @ self.coef_.T + self.intercept_  # (n, K')
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_proba(self, X) -> np.ndarray:
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = 1 / (1 + np.exp(-scores))
            return np.column_stack([1 - p, p])
        return softmax(scores)

    def predict_log_proba(self, X) -> np.ndarray:
        return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]


class Problem:
    """Smooth part of the objective: mean log loss + l2/2 ||W||^2, its gradient and Hessian."""

    def __init__(self, Xa, Y, binary, intercept, l2):
        self.Xa, self.Y, self.binary, self.l2 = Xa, Y, binary, l2
        self.mask = np.ones((Xa.shape[1], 1))  # which rows of theta are penalized
        if intercept:
            self.mask[-1] = 0.0

    def probabilities(self, theta) -> np.ndarray:
        Z = self.Xa @ theta  # (n, K')
        return 1 / (1 + np.exp(-Z)) if self.binary else softmax(Z)

    def value(self, theta) -> float:
        Z = self.Xa @ theta
        if self.binary:  # -[y log s(z) + (1-y) log(1-s(z))] = log(1 + e^z) - y z
            loss = np.mean(np.logaddexp(0, Z[:, 0]) - self.Y[:, 0] * Z[:, 0])
        else:
            zmax = Z.max(axis=1, keepdims=True)
            log_norm = zmax[:, 0] + np.log(np.exp(Z - zmax).sum(axis=1))
            loss = np.mean(log_norm - (Z * self.Y).sum(axis=1))
        return float(loss + 0.5 * self.l2 * np.sum((theta * self.mask) ** 2))

    def gradient(self, theta) -> np.ndarray:
        P = self.probabilities(theta)
        return self.Xa.T @ (P - self.Y) / len(self.Xa) + self.l2 * self.mask * theta  # (d, K')

    def hessian_product(self, P: np.ndarray, V: np.ndarray) -> np.ndarray:
        """H V for the Hessian at probabilities P (n, K'), without forming H (size (dK')^2).

        The softmax Hessian acts on a direction V (d, K') as X^T [P * U - P * rowsum(P * U)] / n with
        U = X V: the per-sample Jacobian of softmax is diag(p) - p p^T (sigmoid: p (1 - p)).
        """
        U = self.Xa @ V  # (n, K')
        S = P * (1 - P) * U if self.binary else P * U - P * (P * U).sum(axis=1, keepdims=True)
        return self.Xa.T @ S / len(self.Xa) + self.l2 * self.mask * V


def conjugate_gradient(apply, b: np.ndarray, max_steps: int, tol: float) -> np.ndarray:
    """Approximately solve apply(x) = b for a symmetric positive (semi-)definite operator."""
    x = np.zeros_like(b)
    r = b.copy()
    p = r.copy()
    rr = np.sum(r * r)
    for _ in range(max_steps):
        Ap = apply(p)
        curvature = np.sum(p * Ap)
        if curvature <= 0:  # flat direction (no penalty): stop with what we have
            break
        step = rr / curvature
        x += step * p
        r -= step * Ap
        rr_next = np.sum(r * r)
        if np.sqrt(rr_next) < tol:
            break
        p = r + (rr_next / rr) * p
        rr = rr_next
    return x if np.any(x) else b


def newton(problem: Problem, theta, max_iter: int, tol: float):
    """Truncated Newton: solve H d = g by conjugate gradients on Hessian-vector products, then
    step theta -= t d with t halved until the objective decreases enough (Armijo)."""
    value = problem.value(theta)
    for step in range(1, max_iter + 1):
        grad = problem.gradient(theta)
        grad_norm = np.sqrt(np.sum(grad * grad))
        if np.max(np.abs(grad)) < tol:
            return theta, step
        P = problem.probabilities(theta)
        forcing = min(0.5, np.sqrt(grad_norm)) * grad_norm  # solve more exactly as we converge
        direction = conjugate_gradient(
            lambda V, P=P: problem.hessian_product(P, V), grad, 10 * grad.size, forcing
        )
        t = 1.0
        while t > 1e-10:
            candidate = theta - t * direction
            new_value = problem.value(candidate)
            if new_value <= value - 1e-4 * t * np.sum(grad * direction):
                break
            t /= 2
        theta, value = candidate, new_value
    return theta, max_iter


def fista(problem: Problem, theta, l1: float, max_iter: int, tol: float):
    """Accelerated proximal gradient with step 1/L, L a bound on the smooth part's curvature."""
    n = len(problem.Xa)
    curvature = 0.25 if problem.binary else 0.5  # max eigenvalue of sigmoid / softmax Hessian factor
    lipschitz = curvature * np.linalg.norm(problem.Xa, 2) ** 2 / n + problem.l2
    step = 1.0 / lipschitz
    momentum_point, t = theta.copy(), 1.0
    for iteration in range(1, max_iter + 1):
        z = momentum_point - step * problem.gradient(momentum_point)
        shrink = step * l1 * problem.mask  # soft-threshold penalized rows only
        new_theta = np.sign(z) * np.maximum(np.abs(z) - shrink, 0.0)
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        momentum_point = new_theta + ((t - 1) / t_next) * (new_theta - theta)
        change = np.max(np.abs(new_theta - theta))
        theta, t = new_theta, t_next
        if change < tol * max(1.0, np.max(np.abs(theta))):
            return theta, iteration
    return theta, max_iter
