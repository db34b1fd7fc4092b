"""`Unigram`: the Unigram language-model tokenizer of SentencePiece (Kudo 2018, arXiv:1804.10959).

BPE builds a vocabulary by merging; Unigram starts from far too many candidate pieces and *removes*
them. A text is segmented into pieces x_1..x_m chosen to maximise Π p(x_i) under a unigram model:

    encode:  argmax over segmentations of Σ log p(x_i)          Viterbi over the lattice of pieces
    train:   repeat  E-step  expected count of every piece over all segmentations of every word
                              (forward-backward on each word's lattice, weighted by the word's count)
                     M-step  log p(x) = ψ(count(x)) - ψ(Σ counts)   (SentencePiece's Bayesian update,
                              ψ the digamma function; pieces expected less than 0.5 times are dropped)
                     prune   loss(x) = count(x) · (log p(x) - log p(best split of x without x)):
                              how much likelihood the corpus loses without x; keep the top 75%
             until the vocabulary is small enough, then keep the `vocab_size` most probable pieces.

Text is read as SentencePiece reads it with `split_by_whitespace` and a dummy prefix: every word
gets "▁" (U+2581) in front, pieces never cross words, single characters are always kept so every
seen character can be encoded; an unseen one becomes <unk>. No normalisation is applied (compare
with SentencePiece's `normalization_rule_name="identity"`). Seed pieces: every substring of a word
up to `max_piece_length` characters, ranked by count × length (SentencePiece ranks the substrings of
its suffix array the same way).

Equality with the `sentencepiece` package is not expected: its seed comes from a suffix array over
the whole text, its pruning renormalises the alternatives and its E-step runs on sentences; the tests
report vocabulary overlap and segmentation agreement instead (see docs/notes/3.2-nlp-toolkit.md).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from groundup.tokenizers.specials import AllowedSpecial, allowed_set, split_specials

SPACE = "\u2581"
SPECIALS = ("<unk>", "<s>", "</s>")


def digamma(x: float) -> float:
    """ψ(x) for x > 0: recurrence up to 6, then the asymptotic series."""
    result = 0.0
    while x < 6.0:
        result -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    return (
        result
        + math.log(x)
        - 0.5 / x
        - f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f / 132))))
    )


def logsumexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    hi, lo = (a, b) if a > b else (b, a)
    return hi + math.log1p(math.exp(lo - hi))


def words_of(text: str) -> list[str]:
    """'Hello world' -> ['▁Hello', '▁world']: whitespace splits words, each gets the ▁ prefix."""
    return [SPACE + w for w in text.split()]


@dataclass
class UnigramTrainer:
    """Settings of `Unigram.train` (SentencePiece's names in comments)."""

    vocab_size: int = 8000  # --vocab_size, including the three specials
    max_piece_length: int = 16  # --max_sentencepiece_length
    seed_size: int = 100_000  # --seed_sentencepiece_size (ours counts word substrings)
    shrinking_factor: float = 0.75  # --shrinking_factor
    em_iterations: int = 2  # --num_sub_iterations

    def __post_init__(self):
        if self.vocab_size <= len(SPECIALS):
            raise ValueError(
                f"vocab_size must exceed the {len(SPECIALS)} special tokens, got {self.vocab_size}"
            )
        if not 0 < self.shrinking_factor < 1:
            raise ValueError(f"shrinking_factor must be in (0, 1), got {self.shrinking_factor}")


class Unigram:
    """A trained Unigram model: `pieces` (piece -> log probability) plus <unk>, <s>, </s> at ids 0..2."""

    bos_token_id = 1
    eos_token_id = 2
    chat_template: str | None = None

    def __init__(self, pieces: dict[str, float]):
        self.scores = dict(pieces)
        ordered = sorted(pieces, key=lambda p: (-pieces[p], p))
        self.id_of = {t: i for i, t in enumerate(SPECIALS)} | {
            p: len(SPECIALS) + i for i, p in enumerate(ordered)
        }
        self.tokens = list(SPECIALS) + ordered
        self.max_len = max(map(len, pieces), default=1)
        self.unk_score = min(pieces.values(), default=0.0) - 10.0  # unknown: costs more than any piece

    # ---- the Tokenizer protocol -------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    @property
    def special_tokens(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(SPECIALS)}

    def id_to_token(self, token_id: int) -> str:
        if not 0 <= token_id < len(self.tokens):
            raise ValueError(f"unknown token id {token_id!r}: ids are 0..{len(self.tokens) - 1}")
        return self.tokens[token_id]

    def encode(
        self, text: str, *, add_special_tokens: bool = False, allowed_special: AllowedSpecial = ()
    ) -> list[int]:
        """Ids of the Viterbi pieces of every word; <s> ... </s> around them with add_special_tokens."""
        ids = [self.bos_token_id] if add_special_tokens else []
        for part, special in split_specials(text, allowed_set(allowed_special, self.special_tokens)):
            if special:
                ids.append(self.id_of[part])
            else:
                ids += [self.id_of.get(p, 0) for w in words_of(part) for p in self.segment(w)]
        return ids + [self.eos_token_id] if add_special_tokens else ids

    def tokenize(self, text: str) -> list[str]:
        return [p for w in words_of(text) for p in self.segment(w)]

    def decode(self, ids: Iterable[int]) -> str:
        text = "".join(self.tokens[i] for i in ids if i >= len(SPECIALS) or i == 0)
        return text.replace("<unk>", " \u2047 ").replace(SPACE, " ").strip()

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        return "".join(self.id_to_token(i) for i in ids).replace(SPACE, " ").encode("utf-8")

    # ---- segmentation -------------------------------------------------------------------------------

    def segment(self, word: str) -> list[str]:
        """Viterbi: best[i] = max over pieces word[j:i] of best[j] + log p(piece); unknown characters
        are single pieces scored `unk_score`."""
        return viterbi(word, self.scores, self.max_len, self.unk_score)

    # ---- training ---------------------------------------------------------------------------------

    @classmethod
    def train(cls, text: str | Iterable[str], trainer: UnigramTrainer | None = None) -> Unigram:
        """EM and pruning as in the module docstring, on the words of `text` (a string or lines)."""
        trainer = trainer or UnigramTrainer()
        lines = [text] if isinstance(text, str) else text
        words = Counter(w for line in lines for w in words_of(line))
        if not words:
            raise ValueError("text: nothing to train on (no words)")
        chars = {c for w in words for c in w}
        pieces = seed_pieces(words, trainer)
        target = trainer.vocab_size - len(SPECIALS)
        while True:
            for _ in range(trainer.em_iterations):
                pieces = em_step(words, pieces, chars)
            if len(pieces) <= target:
                break
            keep = max(target, int(len(pieces) * trainer.shrinking_factor))
            pieces = prune(words, pieces, chars, keep)
            if len(pieces) <= int(target * 1.1):  # close enough: final EM, then cut to size
                pieces = em_step(words, pieces, chars)
                break
        best = sorted(pieces, key=lambda p: (p not in chars, -pieces[p]))  # characters first, always kept
        return cls({p: pieces[p] for p in best[: max(target, len(chars))]})


def viterbi(
    word: str, scores: dict[str, float], max_len: int, unk_score: float, exclude: str | None = None
) -> list[str]:
    """Best segmentation of `word` (see `Unigram.segment`), never using the piece `exclude`."""
    n = len(word)
    best = [0.0] + [-math.inf] * n
    back = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(max(0, end - max_len), end):
            piece = word[start:end]
            score = scores.get(piece) if piece != exclude else None
            if score is None:
                if end - start != 1:
                    continue
                score = unk_score
            if best[start] + score > best[end]:
                best[end], back[end] = best[start] + score, start
    out, end = [], n
    while end > 0:
        out.append(word[back[end] : end])
        end = back[end]
    return out[::-1]


def seed_pieces(words: Counter, trainer: UnigramTrainer) -> dict[str, float]:
    """Every substring of every word (up to max_piece_length), scored count × length; the top
    `seed_size` and every character, as log probabilities proportional to their counts."""
    counts: Counter = Counter()
    for word, freq in words.items():
        for i in range(len(word)):
            for j in range(i + 1, min(len(word), i + trainer.max_piece_length) + 1):
                counts[word[i:j]] += freq
    chars = [p for p in counts if len(p) == 1]
    ranked = sorted((p for p in counts if len(p) > 1), key=lambda p: (-counts[p] * len(p), p))
    chosen = chars + ranked[: trainer.seed_size]
    total = sum(counts[p] for p in chosen)
    return {p: math.log(counts[p] / total) for p in chosen}


def expected_counts(words: Counter, pieces: dict[str, float]) -> tuple[Counter, float]:
    """E-step: Σ over words of count(word) · P(piece used | word), by forward-backward; also the
    corpus log-likelihood."""
    max_len = max(map(len, pieces))
    counts: Counter = Counter()
    loglik = 0.0
    for word, freq in words.items():
        n = len(word)
        alpha = [0.0] + [-math.inf] * n
        edges = []
        for end in range(1, n + 1):
            for start in range(max(0, end - max_len), end):
                score = pieces.get(word[start:end])
                if score is not None and alpha[start] > -math.inf:
                    edges.append((start, end, score))
                    alpha[end] = logsumexp(alpha[end], alpha[start] + score)
        beta = [-math.inf] * n + [0.0]
        for start, end, score in reversed(edges):
            beta[start] = logsumexp(beta[start], beta[end] + score)
        z = alpha[n]
        loglik += freq * z
        for start, end, score in edges:
            counts[word[start:end]] += freq * math.exp(alpha[start] + score + beta[end] - z)
    return counts, loglik


def em_step(words: Counter, pieces: dict[str, float], chars: set[str]) -> dict[str, float]:
    """One E-step and the digamma M-step; rare pieces (< 0.5 expected uses) dropped, characters kept."""
    counts, _ = expected_counts(words, pieces)
    kept = {p: c for p, c in counts.items() if c >= 0.5 and p in pieces}
    for c in chars:
        kept[c] = max(kept.get(c, 0.0), 0.5)  # every character stays encodable
    log_total = digamma(sum(kept.values()))
    return {p: digamma(c) - log_total for p, c in kept.items()}


def prune(words: Counter, pieces: dict[str, float], chars: set[str], keep: int) -> dict[str, float]:
    """Keep the `keep` pieces whose removal would cost the corpus the most likelihood."""
    max_len = max(map(len, pieces))
    freq: Counter = Counter()
    for word, count in words.items():
        for p in viterbi(word, pieces, max_len, -1e9):
            freq[p] += count
    loss = {}
    for p, score in pieces.items():
        if p in chars:
            continue
        alternative = sum(pieces.get(q, -1e9) for q in viterbi(p, pieces, max_len, -1e9, exclude=p))
        loss[p] = freq[p] * (score - alternative)
    ranked = sorted(loss, key=lambda p: -loss[p])[: max(0, keep - len(chars))]
    return {p: pieces[p] for p in (*chars, *ranked) if p in pieces}
