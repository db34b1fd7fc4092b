"""TensorRT's entropy calibration (Migacz, "8-bit Inference with TensorRT", GTC 2017).

Pick the clipping threshold t whose quantized distribution loses the least information:

    1. histogram |x| into `bins` (2048) equal bins over [0, max|x|]
    2. for each candidate i = levels .. bins (levels = 128 for INT8):
         P = hist[:i], with all counts beyond bin i folded into P[i-1]   (clipping keeps the outliers' mass)
         Q = hist[:i] merged into `levels` chunks, each chunk's count spread evenly over its non-empty bins
         score(i) = KL(P ‖ Q) = Σ p log(p / q)  over normalised P, Q
    3. t = (i* + 0.5) · bin_width for the i* with the smallest KL

Bins where P > 0 but Q = 0 cannot happen by construction except for the folded last bin when it was
empty before folding; those candidates get KL = inf.
"""

from __future__ import annotations

import numpy as np


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(P ‖ Q) in nats of two non-negative count vectors, each normalised to sum 1 (0·log 0 = 0)."""
    p = p / p.sum()
    q = q / q.sum()
    support = p > 0
    if np.any(q[support] == 0):
        return float("inf")
    return float(np.sum(p[support] * np.log(p[support] / q[support])))


def merge_expand(hist: np.ndarray, levels: int) -> np.ndarray:
    """Q: `hist` merged into `levels` chunks, each chunk's total spread evenly over its non-empty bins."""
    starts = np.linspace(0, len(hist), levels + 1).round().astype(int)[:-1]  # (levels,) chunk starts
    lengths = np.diff(np.append(starts, len(hist)))
    nonzero = hist > 0
    totals = np.add.reduceat(hist, starts)
    counts = np.add.reduceat(nonzero.astype(np.float64), starts)
    per_bin = np.divide(totals, counts, out=np.zeros_like(totals), where=counts > 0)
    return np.repeat(per_bin, lengths) * nonzero


def kl_threshold(magnitudes: np.ndarray, bins: int = 2048, levels: int = 128) -> float:
    """The TensorRT threshold for non-negative `magnitudes` (|x|)."""
    if magnitudes.size == 0:
        raise ValueError("magnitudes is empty; entropy calibration needs at least one observed value")
    amax = float(magnitudes.max())
    if amax == 0.0:
        return 0.0
    hist, edges = np.histogram(magnitudes, bins=bins, range=(0.0, amax))
    hist = hist.astype(np.float64)
    width = edges[1] - edges[0]
    best_i, best_kl = bins, float("inf")
    for i in range(levels, bins + 1):
        p = hist[:i].copy()
        p[i - 1] += hist[i:].sum()
        q = merge_expand(hist[:i], levels)
        kl = kl_divergence(p, q)
        if kl < best_kl:
            best_i, best_kl = i, kl
    return min((best_i + 0.5) * width, amax)
