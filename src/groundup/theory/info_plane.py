"""The information plane (Shwartz-Ziv & Tishby 2017): I(X;T) and I(T;Y) of each layer T over training.

Two estimators of mutual information between a layer's activations T and the input X or label Y:

- binned: quantize each unit into `bins` equal bins over its range, treat each quantized row as one
  discrete symbol, and use the plug-in MI of the joint counts, I = sum p(a,b) ln(p(a,b) / p(a) p(b)).
  A network is deterministic, so with distinct inputs I(X;T) = H(T_binned): the estimate measures
  how many inputs the binning tells apart, not an intrinsic quantity (Saxe et al. 2018).
- KDE (Kolchinsky & Tracey 2017): add Gaussian noise of variance s^2 to T; the pairwise-distance
  upper bound I(X;T) <= -1/n sum_i ln(1/n sum_j exp(-|t_i - t_j|^2 / 2 s^2)) and
  I(T;Y) = that bound minus its class-conditional average.

Both depend on their knob (bins, noise), which is the known caveat; the note discusses it.
`binned_mutual_information` equals sklearn's `mutual_info_score` (tests/theory/test_info_plane.py).
"""

from __future__ import annotations

import numpy as np


def discretize(T: np.ndarray, bins: int = 30) -> np.ndarray:
    """(n, units) activations -> (n,) integer symbol per row after binning each unit over T's range."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    T = np.asarray(T, float).reshape(len(T), -1)
    lo, hi = T.min(), T.max()
    codes = np.clip(((T - lo) / max(hi - lo, 1e-12) * bins).astype(np.int64), 0, bins - 1)
    _, symbols = np.unique(codes, axis=0, return_inverse=True)
    return symbols.reshape(-1)


def binned_mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in MI (nats) of two discrete label arrays (n,), from their joint counts."""
    a, b = np.unique(a, return_inverse=True)[1], np.unique(b, return_inverse=True)[1]
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1)
    p = joint / joint.sum()
    pa, pb = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    return float(np.sum(p[nz] * np.log(p[nz] / (pa @ pb)[nz])))


def entropy(symbols: np.ndarray) -> float:
    _, counts = np.unique(symbols, return_counts=True)
    p = counts / counts.sum()
    return float(-np.sum(p * np.log(p)))


def _kde_entropy_bound(T: np.ndarray, noise_var: float) -> float:
    d2 = np.sum((T[:, None, :] - T[None, :, :]) ** 2, -1)  # (n, n)
    logk = -d2 / (2 * noise_var)
    m = logk.max(1, keepdims=True)
    return float(-np.mean(m[:, 0] + np.log(np.mean(np.exp(logk - m), 1))))


def kde_mutual_information(T: np.ndarray, y: np.ndarray, noise_var: float = 0.1) -> tuple[float, float]:
    """(I(X;T), I(T;Y)) upper bounds in nats for T + N(0, noise_var) (Kolchinsky & Tracey)."""
    T = np.asarray(T, float).reshape(len(T), -1)
    h = _kde_entropy_bound(T, noise_var)
    conditional = sum(np.mean(y == c) * _kde_entropy_bound(T[y == c], noise_var) for c in np.unique(y))
    return h, h - conditional


def layer_information(T: np.ndarray, x_ids: np.ndarray, y: np.ndarray, bins: int = 30) -> tuple[float, float]:
    """Binned (I(X;T), I(T;Y)) of one layer's activations."""
    t = discretize(T, bins)
    return binned_mutual_information(x_ids, t), binned_mutual_information(t, y)
