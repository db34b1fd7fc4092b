"""Rank fusion and MMR by hand, and the HNSW graph's recall@10 against exact search."""

from __future__ import annotations

import numpy as np
import pytest

from groundup.rag.dense import exact_search, top_k
from groundup.rag.fusion import mmr, reciprocal_rank_fusion, weighted_fusion
from groundup.rag.hnsw import HNSW

pytestmark = pytest.mark.module("3.1")


def test_reciprocal_rank_fusion_by_hand():
    fused = reciprocal_rank_fusion([[(1, 9.0), (2, 5.0)], [(2, 0.3), (3, 0.2)]], k=60)
    assert [i for i, _ in fused] == [2, 1, 3]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)


def test_weighted_fusion_normalises_each_list():
    fused = dict(weighted_fusion([(1, 0.9), (2, 0.5)], [(2, 30.0), (3, 10.0)], alpha=0.5))
    assert fused == pytest.approx({1: 0.5, 2: 0.5, 3: 0.0})
    with pytest.raises(ValueError, match="alpha"):
        weighted_fusion([], [], alpha=2)


def test_mmr_skips_near_duplicates():
    v = np.array([[1, 0, 0], [0.99, 0.141, 0], [0.7, 0, 0.714]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    q = np.array([1, 0, 0], dtype=np.float32)
    assert [i for i, _ in mmr(q, v, [0, 1, 2], k=2, lam=1.0)] == [0, 1]  # pure relevance
    assert [i for i, _ in mmr(q, v, [0, 1, 2], k=2, lam=0.3)] == [0, 2]  # the duplicate 1 loses


def test_top_k_and_exact_search():
    s = np.array([0.1, 0.9, 0.5, 0.7])
    assert top_k(s, 2).tolist() == [1, 3] and top_k(s, 10).tolist() == [1, 3, 2, 0]


def test_hnsw_recall_at_10_against_exact():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(20, 32))
    x = centers[rng.integers(0, 20, 800)] + 0.6 * rng.normal(size=(800, 32))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    q = x[:50] + 0.2 * rng.normal(size=(50, 32)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    index = HNSW(32, M=8, ef_construction=64, ef=64)
    index.add(x[:500])
    index.add(x[500:])  # incremental: ids continue
    recall = np.mean(
        [len({i for i, _ in index.search(v, 10)} & {i for i, _ in exact_search(x, v, 10)}) / 10 for v in q]
    )
    assert recall >= 0.95, recall
    assert len(index) == 800 and HNSW(4).search(np.ones(4), 3) == []
    with pytest.raises(ValueError, match="M must"):
        HNSW(4, M=1)
