"""Okapi BM25 and BM25+: keyword search that rewards a query term's frequency in a passage, with
diminishing returns, normalised by passage length, weighted by how rare the term is.

For query terms q and a passage d of length |d| (average length avgdl, N passages, n(q) of them holding q):

    Okapi  score(d) = sum_q idf(q) * tf(q,d) (k1 + 1) / (tf(q,d) + k1 (1 - b + b |d| / avgdl))
           idf(q)   = ln((N - n(q) + 0.5) / (n(q) + 0.5)), negatives floored to epsilon * mean idf
    BM25+  score(d) = sum_q idf(q) * (delta + tf(q,d) (k1 + 1) / (k1 (1 - b + b |d| / avgdl) + tf(q,d)))
           idf(q)   = ln((N + 1) / n(q))

The conventions (epsilon floor, delta added for every passage, a repeated query term counted each time,
unknown terms scoring 0) are those of the `rank-bm25` package, whose scores tests/rag/test_bm25.py
checks ours against. The tf part is precomputed as a sparse (passages x terms) matrix, so a query is
one column gather and sum.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
from scipy import sparse

TOKEN = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens (\\w+): the tokenization both BM25 and its rank-bm25 check use."""
    return TOKEN.findall(text.lower())


class BM25:
    """`BM25(tokenized_passages, variant="okapi"|"plus")`; `scores(query_tokens)` -> (N,) float64."""

    def __init__(
        self,
        passages: list[list[str]],
        variant: str = "okapi",
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
        delta: float = 1.0,
    ):
        if variant not in ("okapi", "plus"):
            raise ValueError(f"variant must be 'okapi' or 'plus', got {variant!r}")
        if not passages:
            raise ValueError("passages must hold at least one passage")
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"k1 must be >= 0 and b in [0, 1], got k1={k1}, b={b}")
        self.variant, self.k1, self.b, self.epsilon, self.delta = variant, k1, b, epsilon, delta
        self.vocab: dict[str, int] = {}
        rows, cols, tfs = [], [], []
        for row, passage in enumerate(passages):
            for term, tf in Counter(passage).items():
                rows.append(row)
                cols.append(self.vocab.setdefault(term, len(self.vocab)))
                tfs.append(tf)
        n = len(passages)
        lengths = np.array([len(p) for p in passages], dtype=np.float64)  # (N,)
        self.avgdl = lengths.mean()
        tf = np.array(tfs, dtype=np.float64)
        norm = k1 * (1 - b + b * lengths[rows] / self.avgdl)  # per stored (passage, term)
        weight = tf * (k1 + 1) / (tf + norm)
        self.weights = sparse.csc_matrix((weight, (rows, cols)), shape=(n, len(self.vocab)))  # (N, V)
        df = np.bincount(cols, minlength=len(self.vocab)).astype(np.float64)  # (V,)
        self.idf = self._idf(df, n)
        self.n = n

    def _idf(self, df: np.ndarray, n: int) -> np.ndarray:
        if self.variant == "plus":
            return np.log((n + 1) / df)
        idf = np.array([math.log(n - f + 0.5) - math.log(f + 0.5) for f in df])  # as rank-bm25 rounds it
        idf[idf < 0] = self.epsilon * idf.mean()
        return idf

    def scores(self, query: list[str]) -> np.ndarray:
        """BM25 score of every passage for the query tokens: (N,)."""
        total = np.zeros(self.n)
        for term in query:
            col = self.vocab.get(term)
            if col is None:
                continue
            start, end = self.weights.indptr[col], self.weights.indptr[col + 1]
            total[self.weights.indices[start:end]] += self.idf[col] * self.weights.data[start:end]
            if self.variant == "plus":
                total += self.idf[col] * self.delta
        return total

    def search(self, query: str, k: int = 10) -> list[tuple[int, float]]:
        """The k best (passage index, score) for a query string, best first."""
        s = self.scores(tokenize(query))
        top = np.argsort(-s, kind="stable")[:k]
        return [(int(i), float(s[i])) for i in top]
