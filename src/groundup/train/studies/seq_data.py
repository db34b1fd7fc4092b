"""Sequence tasks for the 0.4 studies: a translation substitute, a parallel-corpus reader, the adding
problem and a real text-classification set.

Translation. The seed's translation corpora (Tatoeba/Anki-style tab-separated sentence pairs) cannot
be downloaded here, so `read_parallel` keeps the reader for that format (tested on a small file) and
the runs use a documented substitute: *date translation*, written dates in eight human formats
("tuesday, march 3, 1998", "3 mar 1998", "03.03.1998", ...) to ISO 8601 ("1998-03-03"). It keeps what
makes translation need attention: variable-length sources, reordering (day and month swap places
between formats), words that map to digits (month names), and tokens that map to nothing (weekday).

Adding problem (Hochreiter & Schmidhuber 1997): T steps of (value in [0, 1], marker), exactly two
markers; the target is the sum of the two marked values. A model that ignores the markers predicts
the mean, 1, with mean squared error 1/6; solving it needs information carried across T steps.

Text source: real lines of tiny Shakespeare (label 0) and of WikiText-2 (label 1), a two-class text
classification set with no synthetic text in it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import torch

from groundup.errors import GroundupError

MONTHS = "january february march april may june july august september october november december".split()
WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
PAD, BOS, EOS = "\0", "^", "$"  # special characters of the two vocabularies (never in a date)

FORMATS = (
    lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{MONTHS[d.month - 1][:3]} {d.day} {d.year}",
    lambda d: f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}",
    lambda d: f"{WEEKDAYS[d.weekday()]}, {MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    lambda d: f"{d.year}/{d.month}/{d.day}",
    lambda d: f"the {d.day}{_suffix(d.day)} of {MONTHS[d.month - 1]} {d.year}",
)


def _suffix(day: int) -> str:
    if day in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def random_dates(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """`n` (written date, ISO date) pairs between 1950 and 2049, formats drawn uniformly."""
    g = torch.Generator().manual_seed(seed)
    start, days = dt.date(1950, 1, 1), (dt.date(2049, 12, 31) - dt.date(1950, 1, 1)).days
    offsets = torch.randint(0, days + 1, (n,), generator=g).tolist()
    formats = torch.randint(0, len(FORMATS), (n,), generator=g).tolist()
    pairs = []
    for offset, f in zip(offsets, formats):
        d = start + dt.timedelta(days=offset)
        pairs.append((FORMATS[f](d), d.isoformat()))
    return pairs


def read_parallel(path, max_pairs: int | None = None) -> list[tuple[str, str]]:
    """Tab-separated sentence pairs (Tatoeba/Anki export: source, target[, attribution]) per line."""
    pairs = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise GroundupError(
                f"{path}:{number}: expected 'source<TAB>target' (a Tatoeba/Anki export), got {line[:60]!r}"
            )
        pairs.append((fields[0].strip(), fields[1].strip()))
        if max_pairs is not None and len(pairs) >= max_pairs:
            break
    return pairs


class CharVocab:
    """Characters to ids with PAD = 0, BOS = 1, EOS = 2 in front of the characters seen."""

    def __init__(self, texts: list[str]):
        self.chars = [PAD, BOS, EOS] + sorted(set("".join(texts)) - {PAD, BOS, EOS})
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise GroundupError(
                f"characters {unknown} are not in the vocabulary built from the training pairs"
            )
        return [self.index[c] for c in text]

    def decode(self, ids) -> str:
        out = []
        for i in ids:
            c = self.chars[int(i)]
            if c == EOS:
                break
            if c not in (PAD, BOS):
                out.append(c)
        return "".join(out)


@dataclass
class PairBatch:
    src: torch.Tensor  # (B, S) right-padded
    src_mask: torch.Tensor  # (B, S) True at real tokens
    tgt_in: torch.Tensor  # (B, T): BOS + target
    tgt_out: torch.Tensor  # (B, T): target + EOS, PAD (ignored by the loss) after it


def encode_pairs(pairs, src_vocab: CharVocab, tgt_vocab: CharVocab) -> PairBatch:
    """Pad a list of (source, target) pairs into one batch (PAD = 0 on both sides)."""
    src = [src_vocab.encode(s) for s, _ in pairs]
    tgt = [tgt_vocab.encode(t) for _, t in pairs]
    S, T = max(map(len, src)), max(map(len, tgt)) + 1
    batch = PairBatch(
        torch.zeros(len(pairs), S, dtype=torch.long),
        torch.zeros(len(pairs), S, dtype=torch.bool),
        torch.zeros(len(pairs), T, dtype=torch.long),
        torch.zeros(len(pairs), T, dtype=torch.long),
    )
    bos, eos = tgt_vocab.index[BOS], tgt_vocab.index[EOS]
    for i, (s, t) in enumerate(zip(src, tgt)):
        batch.src[i, : len(s)] = torch.tensor(s)
        batch.src_mask[i, : len(s)] = True
        batch.tgt_in[i, : len(t) + 1] = torch.tensor([bos, *t])
        batch.tgt_out[i, : len(t) + 1] = torch.tensor([*t, eos])
    return batch


def adding_problem(batch: int, length: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """x (B, T, 2) = (value, marker) per step, y (B,) = the sum of the two marked values."""
    values = torch.rand(batch, length, generator=generator)
    first = torch.randint(0, length // 2, (batch,), generator=generator)
    second = torch.randint(length // 2, length, (batch,), generator=generator)
    markers = torch.zeros(batch, length)
    rows = torch.arange(batch)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    return torch.stack([values, markers], dim=-1), (values * markers).sum(dim=1)


def text_source_lines(
    n_per_class: int, min_chars: int = 40, max_chars: int = 80, seed: int = 0
) -> tuple[list[str], list[int]]:
    """`n_per_class` lines of tiny Shakespeare (0) and of WikiText-2's validation split (1), each cut
    to at most `max_chars` characters, lower-cased, shuffled together."""
    from groundup.data import load_text

    g = torch.Generator().manual_seed(seed)
    sources = [load_text("tinyshakespeare"), load_text("wikitext2", "valid")]
    texts, labels = [], []
    for label, corpus in enumerate(sources):
        lines = [ln.strip().lower()[:max_chars] for ln in corpus.splitlines()]
        lines = [ln for ln in lines if len(ln) >= min_chars and not ln.startswith("=")]
        if len(lines) < n_per_class:
            raise GroundupError(f"only {len(lines)} usable lines in source {label}, asked for {n_per_class}")
        pick = torch.randperm(len(lines), generator=g)[:n_per_class].tolist()
        texts += [lines[i] for i in pick]
        labels += [label] * n_per_class
    order = torch.randperm(len(texts), generator=g).tolist()
    return [texts[i] for i in order], [labels[i] for i in order]
