"""Preference pairs without human raters: sample several responses per prompt from the model and
label them with a transparent rule, so that "better" is a number anyone can recompute.

The rule (`rule_score`) rewards a concise, non-repetitive answer, two failure modes a 135M model
shows constantly:

    score(y) = − |words(y) − target| − 10 · [y repeats a word 3-gram] − 5 · [y did not finish]

For each prompt the best- and worst-scoring samples form a pair (chosen, rejected) when their
scores differ by at least `min_gap`; ties carry no preference and are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from groundup.align.rollout import sample_batch

TARGET_WORDS = 20


@dataclass(frozen=True)
class PreferencePair:
    prompt: str
    chosen: str
    rejected: str
    chosen_score: float
    rejected_score: float

    def to_json(self) -> dict:
        return asdict(self)


def repeats_trigram(text: str) -> bool:
    """True when some sequence of three words occurs twice (case-insensitive)."""
    words = re.findall(r"\w+", text.lower())
    grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    return len(grams) != len(set(grams))


def rule_score(text: str, finished: bool = True, target_words: int = TARGET_WORDS) -> float:
    """The labelling rule (module docstring): higher is better, 0 is the best possible."""
    words = len(re.findall(r"\S+", text))
    return -abs(words - target_words) - 10.0 * repeats_trigram(text) - 5.0 * (not finished)


def sample_responses(
    model,
    tokenizer,
    prompt: str,
    n: int = 4,
    max_new_tokens: int = 48,
    temperature: float = 1.0,
    top_p: float = 0.95,
    seed: int = 0,
) -> list[tuple[str, bool]]:
    """n sampled answers to one chat prompt as (text, finished) pairs; finished = ended with EOS.
    (`rollout.sample_batch` does the same for many prompts in one batch.)"""
    rows = sample_batch(model, tokenizer, [prompt], n, max_new_tokens, temperature, top_p, seed)[0]
    return [(r.text, r.finished) for r in rows]


def build_pairs(
    prompt: str, samples: Sequence[tuple[str, bool]], min_gap: float = 3.0
) -> PreferencePair | None:
    """(best, worst) of the scored samples, or None when the rule does not separate them."""
    scored = sorted(((rule_score(t, f), t) for t, f in samples), key=lambda s: s[0])
    (low, worst), (high, best) = scored[0], scored[-1]
    if high - low < min_gap or best == worst:
        return None
    return PreferencePair(prompt, best, worst, high, low)
