"""N-grams: contiguous runs of n tokens, the unit of language models, BLEU/ROUGE and bag-of-n-grams.

    ngrams(["the", "cat", "sat"], 2)        -> ("the", "cat"), ("cat", "sat")
    everygrams(tokens, 1, 2)                -> all 1-grams and 2-grams, by start position then length
    char_ngrams("cat", 2, pad=True)         -> " c", "ca", "at", "t "

The same order as `nltk.util.ngrams` / `everygrams` (the tests compare), as tuples for word n-grams.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence


def ngrams(tokens: Sequence[str], n: int) -> Iterator[tuple[str, ...]]:
    """Every run of `n` consecutive tokens, left to right."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return zip(*(tokens[i:] for i in range(n)))


def everygrams(tokens: Sequence[str], min_n: int = 1, max_n: int | None = None) -> Iterator[tuple[str, ...]]:
    """All n-grams with min_n <= n <= max_n (default: the whole length), grouped by start position."""
    max_n = len(tokens) if max_n is None else max_n
    if min_n < 1 or max_n < min_n:
        raise ValueError(f"need 1 <= min_n <= max_n, got min_n={min_n}, max_n={max_n}")
    for start in range(len(tokens)):
        for n in range(min_n, min(max_n, len(tokens) - start) + 1):
            yield tuple(tokens[start : start + n])


def char_ngrams(text: str, n: int, pad: bool = False) -> list[str]:
    """Character n-grams of `text`, with one space on each side when `pad`."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    text = f" {text} " if pad else text
    return [text[i : i + n] for i in range(len(text) - n + 1)]


def ngram_counts(tokens: Sequence[str], n: int) -> Counter:
    """How often each n-gram occurs (BLEU and ROUGE clip their matches with these counts)."""
    return Counter(ngrams(tokens, n))
