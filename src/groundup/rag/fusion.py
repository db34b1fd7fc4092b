"""Combining rankings, and choosing diverse results.

- Reciprocal-rank fusion (Cormack et al., 2009): score(d) = sum over rankings r of 1 / (k + rank_r(d)),
  rank from 1, k = 60; it needs no score calibration, only ranks.
- Weighted score fusion: each retriever's scores min-max normalised to [0, 1] over its own hits, then
  alpha * dense + (1 - alpha) * sparse (a hit missing from one list scores 0 there).
- Maximal marginal relevance (Carbonell & Goldstein, 1998): pick greedily
  argmax_d  lambda * sim(q, d) - (1 - lambda) * max_{s in picked} sim(d, s), trading relevance for novelty.
"""

from __future__ import annotations

import numpy as np

Ranking = list[tuple[int, float]]  # (item id, score), best first


def reciprocal_rank_fusion(rankings: list[Ranking], k: int = 60) -> Ranking:
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (item, _) in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def _minmax(ranking: Ranking) -> dict[int, float]:
    if not ranking:
        return {}
    scores = np.array([s for _, s in ranking])
    span = scores.max() - scores.min()
    norm = (scores - scores.min()) / span if span > 0 else np.ones_like(scores)
    return {item: float(v) for (item, _), v in zip(ranking, norm)}


def weighted_fusion(dense: Ranking, sparse: Ranking, alpha: float = 0.5) -> Ranking:
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    a, b = _minmax(dense), _minmax(sparse)
    fused = {item: alpha * a.get(item, 0.0) + (1 - alpha) * b.get(item, 0.0) for item in a.keys() | b.keys()}
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def mmr(
    query: np.ndarray, vectors: np.ndarray, candidates: list[int], k: int = 10, lam: float = 0.5
) -> Ranking:
    """Re-order `candidates` (rows of unit `vectors`) by MMR; returns (id, relevance) for the k picked."""
    if not 0 <= lam <= 1:
        raise ValueError(f"lam must be in [0, 1], got {lam}")
    if not candidates:
        return []
    cand = np.asarray(candidates)
    relevance = vectors[cand] @ query  # (n,)
    pairwise = vectors[cand] @ vectors[cand].T  # (n, n)
    picked: list[int] = []
    redundancy = np.full(len(cand), -np.inf)
    left = np.ones(len(cand), dtype=bool)
    for _ in range(min(k, len(cand))):
        gain = lam * relevance - (1 - lam) * (redundancy if picked else 0.0)
        gain[~left] = -np.inf
        best = int(np.argmax(gain))
        picked.append(best)
        left[best] = False
        redundancy = np.maximum(redundancy, pairwise[best])
    return [(int(cand[i]), float(relevance[i])) for i in picked]
