"""BLEU (Papineni et al. 2002) as sacrebleu computes it, and ROUGE-1/2/L (Lin 2004) as `rouge-score` does.

Corpus BLEU. Tokenize every sentence with the "13a" rules of WMT's mteval-v13a (punctuation split off,
periods and commas kept inside numbers). For n = 1..4 add up over the corpus the hypothesis n-grams
(total_n) and the matched ones (correct_n), each n-gram's matches clipped by its largest count in any
one reference. With c the hypothesis length and r the sum of the reference lengths closest to each
hypothesis (the shorter one on a tie):

    p_n  = correct_n / total_n           (exp smoothing: the k-th zero p_n becomes 1 / (2^k total_n))
    BP   = 1 if c >= r else exp(1 - r / c)
    BLEU = 100 · BP · exp(mean_n ln p_n)

ROUGE. Lowercase, keep [a-z0-9] runs as tokens, optionally Porter-stem tokens longer than three
letters. ROUGE-N: precision = matched n-grams / hypothesis n-grams, recall = matched / reference
n-grams (matches clipped per n-gram), F = 2PR / (P + R). ROUGE-L: the same with the length of the
longest common subsequence in place of the matched count.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from groundup.nlp.ngrams import ngram_counts
from groundup.nlp.stem import PorterStemmer

# ---- BLEU ---------------------------------------------------------------------------------------------

_13A = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),  # symbols and most punctuation
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),  # period and comma, unless after a digit
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),  # ... unless before a digit
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),  # a dash after a digit
]


@lru_cache(maxsize=2**16)
def tokenize_13a(line: str) -> str:
    """mteval-v13a tokenization: unescape the four XML entities, split punctuation, one space."""
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        for entity, char in (("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")):
            line = line.replace(entity, char)
    line = f" {line} "
    for pattern, repl in _13A:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


@dataclass
class BLEU:
    """A corpus BLEU score and its parts (precisions in percent, as sacrebleu reports them)."""

    score: float
    precisions: list[float]
    brevity_penalty: float
    sys_len: int
    ref_len: int
    correct: list[int]
    total: list[int]


def corpus_bleu(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    lowercase: bool = False,
    max_order: int = 4,
) -> BLEU:
    """BLEU of `hypotheses` against reference streams: references[k][i] is the k-th reference of
    hypothesis i (sacrebleu's layout). Tokenizer 13a, exp smoothing, as sacrebleu's defaults."""
    if any(len(stream) != len(hypotheses) for stream in references):
        raise ValueError("references: every reference stream must have one sentence per hypothesis")
    prep = (lambda s: tokenize_13a(s.lower().rstrip())) if lowercase else (lambda s: tokenize_13a(s.rstrip()))
    correct, total = [0] * max_order, [0] * max_order
    sys_len = ref_len = 0
    for i, hyp in enumerate(hypotheses):
        refs = [prep(stream[i]).split() for stream in references]
        clip: Counter = Counter()
        for ref in refs:
            for n in range(1, max_order + 1):
                clip |= ngram_counts(ref, n)  # | keeps the largest count of each n-gram
        tokens = prep(hyp).split()
        sys_len += len(tokens)
        ref_len += min((len(r) for r in refs), key=lambda m: (abs(len(tokens) - m), m))
        for n in range(1, max_order + 1):
            for gram, count in ngram_counts(tokens, n).items():
                total[n - 1] += count
                correct[n - 1] += min(count, clip[gram])
    return bleu_from_counts(correct, total, sys_len, ref_len)


def bleu_from_counts(correct: list[int], total: list[int], sys_len: int, ref_len: int) -> BLEU:
    """The BLEU formula of the module docstring on corpus statistics."""
    bp = 1.0 if sys_len >= ref_len else (math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0)
    precisions = [0.0] * len(correct)
    if not any(correct):
        return BLEU(0.0, precisions, bp, sys_len, ref_len, correct, total)
    zeros = 0
    for n, (c, t) in enumerate(zip(correct, total)):
        if t == 0:
            break
        if c == 0:
            zeros += 1
            precisions[n] = 100.0 / (2**zeros * t)
        else:
            precisions[n] = 100.0 * c / t
    logs = [math.log(p) if p > 0 else -9999999999 for p in precisions]
    return BLEU(bp * math.exp(sum(logs) / len(logs)), precisions, bp, sys_len, ref_len, correct, total)


# ---- ROUGE --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    fmeasure: float


def f_measure(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


_NON_ALNUM = re.compile(r"[^a-z0-9]+")


class Rouge:
    """`score(reference, hypothesis) -> {"rouge1": Score, "rouge2": Score, "rougeL": Score}`."""

    TYPES = ("rouge1", "rouge2", "rougeL")

    def __init__(self, types: Sequence[str] = TYPES, use_stemmer: bool = False):
        unknown = [t for t in types if t not in self.TYPES and not re.fullmatch(r"rouge[1-9]", t)]
        if unknown:
            raise ValueError(f"unknown ROUGE type {unknown[0]!r}: use rouge1..rouge9 or rougeL")
        self.types = tuple(types)
        self.stemmer = PorterStemmer() if use_stemmer else None

    def tokenize(self, text: str) -> list[str]:
        tokens = _NON_ALNUM.sub(" ", text.lower()).split()
        if self.stemmer:
            tokens = [self.stemmer.stem(t) if len(t) > 3 else t for t in tokens]
        return tokens

    def score(self, reference: str, hypothesis: str) -> dict[str, Score]:
        ref, hyp = self.tokenize(reference), self.tokenize(hypothesis)
        return {t: rouge_l(ref, hyp) if t == "rougeL" else rouge_n(ref, hyp, int(t[5:])) for t in self.types}


def rouge_n(ref: list[str], hyp: list[str], n: int) -> Score:
    r, h = ngram_counts(ref, n), ngram_counts(hyp, n)
    overlap = sum(min(count, h[gram]) for gram, count in r.items())
    precision = overlap / max(sum(h.values()), 1)
    recall = overlap / max(sum(r.values()), 1)
    return Score(precision, recall, f_measure(precision, recall))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, one row of the dynamic programme at a time."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(ref: list[str], hyp: list[str]) -> Score:
    if not ref or not hyp:
        return Score(0.0, 0.0, 0.0)
    lcs = lcs_length(ref, hyp)
    precision, recall = lcs / len(hyp), lcs / len(ref)
    return Score(precision, recall, f_measure(precision, recall))
