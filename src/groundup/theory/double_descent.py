"""Double descent (Belkin et al. 2019): test error peaks where the model can just interpolate.

Random-features regression: phi(x) = relu(x W / sqrt(d)) with a fixed Gaussian W (d, p), and the
minimum-norm least-squares readout beta = pinv(Phi) Y on one-hot targets. Below p = n (features <
training points) it is ordinary least squares; at p = n the system is square, Phi is badly
conditioned, and the fitted beta is huge and noisy; above it, among the infinitely many exact fits,
the pseudo-inverse picks the smallest-norm one, which generalizes better as p grows. So the test
error falls, rises to a peak at p ~ n, and falls again: the classical U-curve and the modern regime
on one axis. `random_features_sweep` measures it on real data (digits or MNIST).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def random_features(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """(n, d) @ (d, p) -> relu features (n, p)."""
    return np.maximum(X @ W / np.sqrt(X.shape[1]), 0.0)


def min_norm_fit(Phi: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The minimum-norm least-squares solution of Phi beta = Y: (p, k)."""
    return np.linalg.lstsq(Phi, Y, rcond=None)[0]


def random_features_sweep(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    widths: Sequence[int],
    seeds: int = 3,
) -> dict[str, np.ndarray]:
    """Test/train MSE, test classification error and readout norm per width, averaged over `seeds`
    draws of W: {"width", "test_mse", "train_mse", "test_error", "norm"} arrays (len(widths),)."""
    k = int(max(y_train.max(), y_test.max())) + 1
    Y, Yt = np.eye(k)[y_train], np.eye(k)[y_test]
    out = {key: np.zeros(len(widths)) for key in ("test_mse", "train_mse", "test_error", "norm")}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        W = rng.normal(size=(X_train.shape[1], max(widths)))
        for i, p in enumerate(widths):
            Phi, Phi_t = random_features(X_train, W[:, :p]), random_features(X_test, W[:, :p])
            beta = min_norm_fit(Phi, Y)
            pred = Phi_t @ beta
            out["test_mse"][i] += np.mean(np.sum((pred - Yt) ** 2, 1)) / seeds
            out["train_mse"][i] += np.mean(np.sum((Phi @ beta - Y) ** 2, 1)) / seeds
            out["test_error"][i] += np.mean(pred.argmax(1) != y_test) / seeds
            out["norm"][i] += np.linalg.norm(beta) / seeds
    return {"width": np.asarray(widths), **out}
