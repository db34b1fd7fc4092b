"""A translation substitute built from WikiText-2: real English sentences "translated" by a fixed,
invertible rule, so a sequence-to-sequence model has something deterministic and learnable to learn.

The rule has two parts, both of which a translation model must learn from pairs alone:

- **reordering**: the words of every clause are reversed; clause boundaries (`, ; : .`) stay in place.
  "He later played college football ." -> "football college played later He ."
- **cipher**: every word is replaced by its pseudo-word under a fixed, seeded bijection of the vocabulary
  ("football" -> "vosuki"); the boundaries and `<unk>` map to themselves.

Sentences are WikiText-2's (valid + test splits; the repository carries no train split) with 4 to 16
tokens; words outside the `vocab_size` most frequent become `<unk>` first, and sentences with more than
`max_unk` of them are dropped (a dictionary cannot be learned from words seen once).
Both parts are bijections (reversal is its own inverse), so `untranslate(translate(s)) == s`: the
target carries all of the source, and a model can reach BLEU 100.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

import torch

BOS, EOS, UNK = "<bos>", "<eos>", "<unk>"
SPECIALS = (BOS, EOS, UNK)
BOUNDARIES = (",", ";", ":", ".")
CONSONANTS, VOWELS = "bdfgklmnprstvz", "aeiou"


def wikitext_sentences(min_words: int = 4, max_words: int = 16) -> list[list[str]]:
    """WikiText-2 sentences (ending in ".") of min_words..max_words tokens, headings skipped."""
    from groundup.data import load_text

    if not 1 <= min_words <= max_words:
        raise ValueError(f"min_words/max_words must satisfy 1 <= min <= max, got {min_words}, {max_words}")
    sentences = []
    for split in ("valid", "test"):
        for line in load_text("wikitext2", split).split("\n"):
            if not line.strip() or line.strip().startswith("="):
                continue
            current: list[str] = []
            for word in line.split():
                current.append(word)
                if word == ".":
                    if min_words <= len(current) <= max_words:
                        sentences.append(current)
                    current = []
    return sentences


def reorder(words: list[str]) -> list[str]:
    """Reverse the words of each clause, boundaries in place; its own inverse."""
    out, clause = [], []
    for word in [*words, None]:
        if word is None or word in BOUNDARIES:
            out += clause[::-1] + ([word] if word is not None else [])
            clause = []
        else:
            clause.append(word)
    return out


def pseudo_words(n: int, seed: int) -> list[str]:
    """n distinct pronounceable pseudo-words of 2-4 consonant-vowel syllables, seeded."""
    rng, words, seen = random.Random(seed), [], set()
    while len(words) < n:
        word = "".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


@dataclass
class Cipher:
    """A bijection of words onto pseudo-words; boundaries and <unk> map to themselves."""

    forward: dict[str, str]

    @classmethod
    def make(cls, words: list[str], seed: int) -> Cipher:
        keep = set(BOUNDARIES) | {UNK}
        ciphered = [w for w in words if w not in keep]
        table = dict(zip(ciphered, pseudo_words(len(ciphered), seed), strict=True))
        return cls({**table, **{w: w for w in keep}})

    def encode(self, words: list[str]) -> list[str]:
        return [self.forward[w] for w in words]

    def decode(self, words: list[str]) -> list[str]:
        inverse = {v: k for k, v in self.forward.items()}
        return [inverse[w] for w in words]


def translate(words: list[str], cipher: Cipher) -> list[str]:
    """The target sentence: clause-reversed, then ciphered word by word."""
    return cipher.encode(reorder(words))


def untranslate(words: list[str], cipher: Cipher) -> list[str]:
    return reorder(cipher.decode(words))


@dataclass
class TranslationTask:
    """Vocabularies (specials first), the cipher, and (source, target) word lists for train and test."""

    src_vocab: list[str]
    tgt_vocab: list[str]
    cipher: Cipher
    train: list[tuple[list[str], list[str]]]
    test: list[tuple[list[str], list[str]]]

    @property
    def vocab_size(self) -> int:
        return max(len(self.src_vocab), len(self.tgt_vocab))

    def ids(self, words: list[str], side: str) -> list[int]:
        index = self._index(side)
        return [index[w] for w in words]

    def words(self, ids, side: str) -> list[str]:
        vocab = self.src_vocab if side == "src" else self.tgt_vocab
        return [vocab[i] for i in ids]

    def _index(self, side: str) -> dict[str, int]:
        if side not in ("src", "tgt"):
            raise ValueError(f"side must be 'src' or 'tgt', got {side!r}")
        key = f"_{side}_index"
        if key not in self.__dict__:
            self.__dict__[key] = {
                w: i for i, w in enumerate(self.src_vocab if side == "src" else self.tgt_vocab)
            }
        return self.__dict__[key]


def build_task(
    vocab_size: int = 2000,
    held_out: int = 450,
    seed: int = 0,
    min_words: int = 4,
    max_words: int = 16,
    max_unk: int = 2,
) -> TranslationTask:
    """The task: sentences shuffled by `seed`, the last `held_out` held out, the vocabulary (the
    `vocab_size` most frequent words of the others) and its cipher; then from both parts the sentences
    with more than `max_unk` words outside the vocabulary are dropped."""
    sentences = wikitext_sentences(min_words, max_words)
    if not 0 < held_out < len(sentences):
        raise ValueError(f"held_out must be in 1..{len(sentences) - 1}, got {held_out}")
    random.Random(seed).shuffle(sentences)
    counts = Counter(w for s in sentences[:-held_out] for w in s if w not in BOUNDARIES and w != UNK)
    words = list(BOUNDARIES) + [w for w, _ in counts.most_common(vocab_size)]
    known = {*words, UNK}  # WikiText-2 has its own <unk> tokens already
    train, test = (
        [s for s in part if sum(w not in known for w in s) <= max_unk]
        for part in (sentences[:-held_out], sentences[-held_out:])
    )
    cipher = Cipher.make(words, seed)
    src_vocab = [*SPECIALS, *words]
    tgt_vocab = [*SPECIALS, *sorted(cipher.forward[w] for w in words)]  # target ids unrelated to source ids

    def pairs(part):
        capped = [[w if w in known else UNK for w in s] for s in part]
        return [(s, translate(s, cipher)) for s in capped]

    return TranslationTask(src_vocab, tgt_vocab, cipher, pairs(train), pairs(test))


def length_batches(
    task: TranslationTask, pairs, batch_size: int, generator: torch.Generator | None = None
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of (src (B, S), tgt (B, S)) id batches, each of sentences of one length (the rule keeps
    the length), so no padding or masks are needed; shuffled when a generator is given."""
    by_length: dict[int, list] = {}
    for src, tgt in pairs:
        by_length.setdefault(len(src), []).append((task.ids(src, "src"), task.ids(tgt, "tgt")))
    batches = []
    for length in sorted(by_length):
        group = by_length[length]
        order = (
            torch.randperm(len(group), generator=generator) if generator is not None else range(len(group))
        )
        group = [group[int(i)] for i in order]
        for start in range(0, len(group), batch_size):
            chunk = group[start : start + batch_size]
            batches.append((torch.tensor([s for s, _ in chunk]), torch.tensor([t for _, t in chunk])))
    if generator is not None:
        batches = [batches[int(i)] for i in torch.randperm(len(batches), generator=generator)]
    return batches
