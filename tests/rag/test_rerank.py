"""The cross-encoder reranker (MiniLM + a linear head on [CLS] of query+passage): a few BCE steps on a toy
relevance rule (the passage names the query's word) and it ranks the relevant passage first."""

from __future__ import annotations

import pytest
import torch

from groundup.rag.rerank import CrossEncoder, train_cross_encoder

pytestmark = pytest.mark.module("3.1")

WORDS = ["cat", "river", "engine", "castle", "piano", "forest", "rocket", "bread"]


def test_cross_encoder_learns_and_reranks():
    torch.manual_seed(0)
    model = CrossEncoder(max_length=32)
    pairs = []
    for i, word in enumerate(WORDS):
        pairs += [(word, f"a story about the {WORDS[(i + j) % 8]}", 0.0) for j in (1, 3, 5)]
        pairs += [(word, f"a story about the {word}", 1.0)] * 3
    losses = train_cross_encoder(model, pairs * 3, batch_size=16, lr=2e-4)
    assert len(losses) == 9 and all(loss == loss for loss in losses)
    texts = [f"a story about the {w}" for w in WORDS]
    first = [model.rerank(w, list(range(8)), texts)[0][0] == i for i, w in enumerate(WORDS)]
    assert sum(first) >= 6, first
