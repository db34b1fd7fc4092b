"""Bag of words and TF-IDF as sparse matrices, equal to scikit-learn's CountVectorizer/TfidfVectorizer.

Bag of words: document d becomes the row of counts tf(t, d) over a vocabulary of terms (words, or
word n-grams joined by a space), sorted alphabetically. The analyzer is scikit-learn's default:
lowercase, tokens = every match of `(?u)\\b\\w\\w+\\b`, optional stop words, then n-grams.
Vocabulary pruning, in order: document frequency df(t) outside [min_df, max_df] (ints count
documents, floats are fractions), then the `max_features` most frequent terms over the corpus.

TF-IDF reweights each count by how rare the term is across the n documents:

    idf(t) = ln((1 + n) / (1 + df(t))) + 1      smooth_idf=True (as if one extra document held every term)
    idf(t) = ln(n / df(t)) + 1                  smooth_idf=False
    tf     = 1 + ln(tf) when sublinear_tf (a term said 10 times is not 10 times as telling)
    row    = (tf · idf) / ||tf · idf||           norm "l2" (default), "l1" or None

Edge cases follow scikit-learn: an empty document is a row of zeros (its norm stays 0); a corpus
with no term at all raises ValueError("empty vocabulary ..."). Output: `scipy.sparse.csr_matrix`
with sorted indices, int64 counts or float64 weights.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from numbers import Integral

import numpy as np
import scipy.sparse as sp

from groundup.nlp.clean import TOKEN_PATTERN

NORMS = ("l2", "l1", None)


class CountVectorizer:
    """Documents -> sparse term counts (see the module docstring); `vocabulary_` maps term -> column."""

    def __init__(
        self,
        *,
        lowercase: bool = True,
        token_pattern: str = TOKEN_PATTERN,
        ngram_range: tuple[int, int] = (1, 1),
        stop_words: Iterable[str] | None = None,
        min_df: float = 1,
        max_df: float = 1.0,
        max_features: int | None = None,
        binary: bool = False,
    ):
        lo, hi = ngram_range
        if not 1 <= lo <= hi:
            raise ValueError(f"ngram_range must satisfy 1 <= min_n <= max_n, got {ngram_range}")
        if max_features is not None and max_features < 1:
            raise ValueError(f"max_features must be a positive int or None, got {max_features}")
        self.lowercase, self.token_pattern, self.ngram_range = lowercase, token_pattern, ngram_range
        self.stop_words = frozenset(stop_words) if stop_words is not None else None
        self.min_df, self.max_df, self.max_features, self.binary = min_df, max_df, max_features, binary

    def build_analyzer(self) -> Callable[[str], list[str]]:
        """text -> terms: lowercase, tokenize, drop stop words, then n-grams (unigrams first)."""
        findall = re.compile(self.token_pattern).findall
        lo, hi = self.ngram_range
        stop = self.stop_words

        def analyze(doc: str) -> list[str]:
            tokens = findall(doc.lower() if self.lowercase else doc)
            if stop:
                tokens = [t for t in tokens if t not in stop]
            if hi == 1:
                return tokens
            terms = list(tokens) if lo == 1 else []
            for n in range(max(lo, 2), hi + 1):
                terms += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
            return terms

        return analyze

    def _count(self, docs: Iterable[str], vocab: dict[str, int], grow: bool) -> sp.csr_matrix:
        """Counts as CSR over `vocab` (new terms added when `grow`, unknown ones skipped otherwise)."""
        analyze = self.build_analyzer()
        cols: list[int] = []
        indptr = [0]
        for doc in docs:
            terms = analyze(doc)
            if grow:
                cols += [vocab.setdefault(t, len(vocab)) for t in terms]
            else:
                cols += [vocab[t] for t in terms if t in vocab]
            indptr.append(len(cols))
        if grow and not vocab:
            raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
        col = np.asarray(cols, dtype=np.int64)
        X = sp.csr_matrix(
            (np.ones(len(col), dtype=np.int64), col, np.asarray(indptr)), shape=(len(indptr) - 1, len(vocab))
        )
        X.sum_duplicates()  # repeated terms of a row become one entry with their count; sorts indices
        return X

    def fit_transform(self, docs: Iterable[str], y=None) -> sp.csr_matrix:
        vocab: dict[str, int] = {}
        X = self._count(docs, vocab, grow=True)
        terms = sorted(vocab)
        order = np.fromiter((vocab[t] for t in terms), dtype=np.int64, count=len(terms))  # new -> old
        X = X[:, order]  # columns in alphabetical order of their terms
        X, kept = self._limit(X)
        self.vocabulary_ = {terms[old]: new for new, old in enumerate(kept)}
        X.sort_indices()
        return self._finish(X)

    def _limit(self, X: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
        """Drop terms outside [min_df, max_df] documents, then keep the max_features most frequent."""
        n = X.shape[0]
        high = self.max_df if isinstance(self.max_df, Integral) else self.max_df * n
        low = self.min_df if isinstance(self.min_df, Integral) else self.min_df * n
        if high < low:
            raise ValueError("max_df corresponds to < documents than min_df")
        df = np.bincount(X.indices, minlength=X.shape[1])
        mask = (df >= low) & (df <= high)
        if self.max_features is not None and mask.sum() > self.max_features:
            tf = np.asarray(X.sum(axis=0)).ravel()
            top = (-tf[mask]).argsort()[: self.max_features]  # numpy's default sort, as scikit-learn's
            keep = np.zeros_like(mask)
            keep[np.where(mask)[0][top]] = True
            mask = keep
        kept = np.where(mask)[0]
        if len(kept) == 0:
            raise ValueError("After pruning, no terms remain. Try a lower min_df or a higher max_df.")
        return X[:, kept], kept

    def fit(self, docs: Iterable[str], y=None) -> CountVectorizer:
        self.fit_transform(docs)
        return self

    def transform(self, docs: Iterable[str]) -> sp.csr_matrix:
        if not hasattr(self, "vocabulary_"):
            raise ValueError("this vectorizer is not fitted yet: call fit or fit_transform first")
        X = self._count(docs, dict(self.vocabulary_), grow=False)
        return self._finish(X)

    def _finish(self, X: sp.csr_matrix) -> sp.csr_matrix:
        if self.binary:
            X.data.fill(1)
        return X

    def get_feature_names_out(self) -> np.ndarray:
        names = np.empty(len(self.vocabulary_), dtype=object)
        for term, col in self.vocabulary_.items():
            names[col] = term
        return names


class TfidfVectorizer(CountVectorizer):
    """Counts reweighted by inverse document frequency and normalised per row; `idf_` per column."""

    def __init__(
        self,
        *,
        norm: str | None = "l2",
        use_idf: bool = True,
        smooth_idf: bool = True,
        sublinear_tf: bool = False,
        **count,
    ):
        if norm not in NORMS:
            raise ValueError(f"norm must be 'l2', 'l1' or None, got {norm!r}")
        super().__init__(**count)
        self.norm, self.use_idf, self.smooth_idf, self.sublinear_tf = norm, use_idf, smooth_idf, sublinear_tf

    def fit_transform(self, docs: Iterable[str], y=None) -> sp.csr_matrix:
        counts = super().fit_transform(docs)
        n = counts.shape[0] + int(self.smooth_idf)
        df = np.bincount(counts.indices, minlength=counts.shape[1]) + int(self.smooth_idf)
        self.idf_ = np.log(n / df) + 1.0
        return self._weigh(counts)

    def transform(self, docs: Iterable[str]) -> sp.csr_matrix:
        return self._weigh(super().transform(docs))

    def _weigh(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        X = counts.astype(np.float64)
        if self.sublinear_tf:
            np.log(X.data, out=X.data)
            X.data += 1.0
        if self.use_idf:
            X.data *= self.idf_[X.indices]
        return normalize_rows(X, self.norm) if self.norm else X


def normalize_rows(X: sp.csr_matrix, norm: str = "l2") -> sp.csr_matrix:
    """Divide each row by its l2 or l1 norm in place; all-zero rows stay zero."""
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    if norm == "l2":
        norms = np.sqrt(np.bincount(rows, weights=X.data**2, minlength=X.shape[0]))
    else:
        norms = np.bincount(rows, weights=np.abs(X.data), minlength=X.shape[0])
    norms[norms == 0.0] = 1.0
    X.data /= norms[rows]
    return X
