"""Exercise: linear regression by gradient descent, compared with the normal equation.

Model y_hat = X w + b. Loss (mean squared error, halved):  L(w, b) = (1 / 2n) sum_i (x_i.w + b - y_i)^2.

Derivation. Write the residual r = X w + b 1 - y (n,). Then L = r^T r / (2n), and by the chain rule
    dL/dw = X^T r / n,        dL/db = 1^T r / n = mean(r).
Setting both to zero gives the normal equation (X^T X) w = X^T y on centered data, the closed form.
Gradient descent instead repeats  w <- w - lr * X^T r / n,  b <- b - lr * mean(r).
The Hessian of L in w is H = X^T X / n (constant: L is a convex quadratic). Along an eigenvector of
H with eigenvalue lambda, the error shrinks by a factor |1 - lr * lambda| per step, so
  - lr < 2 / lambda_max is needed to converge, and lr = 1 / lambda_max is a safe choice;
  - the slowest direction shrinks by 1 - lambda_min / lambda_max per step: the condition number
    lambda_max / lambda_min sets the number of steps. Standardizing features lowers it a lot.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LinearRegression as SkLinearRegression

from groundup.classic import LinearRegression, StandardScaler
from groundup.data import load_sklearn


def gradient_descent(X, y, lr: float, steps: int) -> tuple[np.ndarray, float, list[float]]:
    w, b, losses = np.zeros(X.shape[1]), 0.0, []
    for _ in range(steps):
        r = X @ w + b - y  # (n,) residuals
        losses.append(float(r @ r / (2 * len(y))))
        w -= lr * X.T @ r / len(y)
        b -= lr * r.mean()
    return w, b, losses


def main() -> dict:
    X, _ = load_sklearn("wine")
    X, y = X[:, 1:], X[:, 0]  # predict alcohol from the other 12 measurements
    Xs = StandardScaler().fit_transform(X)
    hessian = Xs.T @ Xs / len(Xs)
    eig = np.linalg.eigvalsh(hessian)
    print(f"condition number raw {np.linalg.cond(X.T @ X):.3g}, standardized {eig[-1] / eig[0]:.3g}")
    w, b, losses = gradient_descent(Xs, y, lr=1 / eig[-1], steps=20_000)
    closed = LinearRegression().fit(Xs, y)
    ref = SkLinearRegression().fit(Xs, y)
    ours_gd = LinearRegression(solver="gd").fit(Xs, y)
    gap = float(np.max(np.abs(w - ref.coef_)))
    print(f"loss: step 0 {losses[0]:.4f}, step 100 {losses[100]:.4f}, final {losses[-1]:.6f}")
    print(f"max |w_gd - w_sklearn| = {gap:.2e}; |b_gd - b_sklearn| = {abs(b - ref.intercept_):.2e}")
    print(f"normal equation vs sklearn: {np.max(np.abs(closed.coef_ - ref.coef_)):.2e}")
    print(
        f"LinearRegression(solver='gd') took {ours_gd.n_iter_} steps; max diff {np.max(np.abs(ours_gd.coef_ - ref.coef_)):.2e}"
    )
    return {"gd_gap": gap, "normal_gap": float(np.max(np.abs(closed.coef_ - ref.coef_)))}


if __name__ == "__main__":
    main()
