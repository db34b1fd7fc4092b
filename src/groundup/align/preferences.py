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

import torch

from groundup.align.batch import format_prompt
from groundup.generate.sampling import SamplingParams, make_generator, sample

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


@torch.no_grad()
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
    """n sampled answers to one chat prompt, decoded together as a batch of n rows that share the
    prompt (so no padding is needed). Returns (text, finished) per row; finished = ended with EOS."""
    ids = tokenizer.encode(format_prompt(tokenizer, prompt), add_bos=False)
    cache = model.new_cache(batch_size=n, max_len=len(ids) + max_new_tokens)
    logits = model(torch.tensor([ids] * n), kv_cache=cache, logits_index=slice(-1, None))[:, -1]  # (n, V)
    params = SamplingParams(temperature=temperature, top_p=top_p)
    generator = make_generator(seed)
    out = [[] for _ in range(n)]
    done = torch.zeros(n, dtype=torch.bool)
    for _ in range(max_new_tokens):
        next_id = sample(logits, params, generator)  # (n,)
        for i in range(n):
            if not done[i]:
                if next_id[i].item() == tokenizer.eos_token_id:
                    done[i] = True
                else:
                    out[i].append(next_id[i].item())
        if done.all():
            break
        logits = model(next_id[:, None], kv_cache=cache)[:, -1]  # (n, V)
    return [(tokenizer.decode(o).strip(), bool(d)) for o, d in zip(out, done)]


def build_pairs(
    prompt: str, samples: Sequence[tuple[str, bool]], min_gap: float = 3.0
) -> PreferencePair | None:
    """(best, worst) of the scored samples, or None when the rule does not separate them."""
    scored = sorted(((rule_score(t, f), t) for t, f in samples), key=lambda s: s[0])
    (low, worst), (high, best) = scored[0], scored[-1]
    if high - low < min_gap or best == worst:
        return None
    return PreferencePair(prompt, best, worst, high, low)
