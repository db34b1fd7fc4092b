"""Dense retrieval: passages and queries become unit vectors from our MiniLM-BERT (mean-pooled,
L2-normalised, equal to sentence-transformers' all-MiniLM-L6-v2 within 1e-5: tests/models/test_bert.py),
so cosine similarity is a dot product and exact search is one matrix-vector product plus a partial sort."""

from __future__ import annotations

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"


class Embedder:
    """`Embedder()(texts)` -> (n, 384) float32 unit vectors, batched; the model loads on first use."""

    def __init__(self, model=None, batch_size: int = 32, max_length: int = 256, name: str = MODEL_NAME):
        self.model, self.batch_size, self.max_length, self.name = model, batch_size, max_length, name

    def __call__(self, texts: list[str]) -> np.ndarray:
        if self.model is None:
            from groundup.models.bert import Bert

            self.model = Bert.from_pretrained()
        if not texts:
            return np.zeros((0, self.model.cfg.n_embd), dtype=np.float32)
        out = self.model.embed(texts, batch_size=self.batch_size, max_length=self.max_length)
        return out.numpy().astype(np.float32)

    @property
    def tokenizer(self):
        if self.model is None:
            self([])
        return self.model.tokenizer


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first: argpartition (O(N)) then a sort of the k."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def exact_search(vectors: np.ndarray, query: np.ndarray, k: int = 10) -> list[tuple[int, float]]:
    """The k rows of `vectors` (N, C) most cosine-similar to the unit `query` (C,), best first."""
    scores = vectors @ query  # (N,)
    return [(int(i), float(scores[i])) for i in top_k(scores, k)]
