"""Speculative decoding with exact rejection sampling (Leviathan et al. 2023; Chen et al. 2023).

A cheap drafter proposes `k` tokens; the target model scores all of them in one forward (the step
computes `1 + k` tokens for that sequence). Draft token `x_i` (drafter probability `q_i(x)`) is
accepted with probability `min(1, p_i(x) / q_i(x))`, where `p_i` is the target's *sampling*
distribution (after temperature/top-k/top-p). At the first rejection a token is drawn from the
residual `norm(max(0, p_i - q_i))` and the rest is dropped; if all `k` pass, a bonus token is drawn
from `p_k`. Each emitted token is then distributed exactly as the target alone would sample it.
With greedy sampling `p_i` is one-hot, so this reduces to "accept while the draft equals the argmax".

Drafters: prompt lookup (`propose_ngram`: copy what followed the last occurrence of the current
n-gram in the context; no model, a deterministic `q = one-hot`) and a layer-skip self-draft (the
target's first layers plus its LM head, sharing the target's KV cache: see `Engine`).
"""

from __future__ import annotations

import torch


def propose_ngram(ids: list[int], k: int, max_n: int = 3, min_n: int = 1) -> list[int]:
    """Up to `k` tokens that followed the most recent earlier occurrence of the longest suffix n-gram."""
    if k < 1:
        return []
    for n in range(min(max_n, len(ids) - 1), min_n - 1, -1):
        suffix = ids[-n:]
        for start in range(len(ids) - n - 1, -1, -1):  # most recent match first
            if ids[start : start + n] == suffix:
                follow = ids[start + n : start + n + k]
                if follow:
                    return follow
    return []


def verify(
    draft_ids: list[int],
    target_probs: torch.Tensor,
    draft_probs: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[list[int], int]:
    """Rejection-sample the drafts against the target.

    target_probs: (k + 1, V) the target's sampling distribution at each draft position and after.
    draft_probs: (k, V) the drafter's distribution per position, or None for a deterministic drafter.
    Returns (emitted tokens: accepted drafts + one corrected or bonus token, number of drafts accepted).
    """
    k = len(draft_ids)
    assert target_probs.shape[0] == k + 1, f"need {k + 1} target rows, got {target_probs.shape[0]}"
    u = torch.rand(k, generator=generator, dtype=torch.float64) if k else None
    for i, x in enumerate(draft_ids):
        p = target_probs[i].double()
        if draft_probs is None:
            q = torch.zeros_like(p)
            q[x] = 1.0
        else:
            q = draft_probs[i].double()
        if u[i] * q[x] < p[x]:  # accept with probability min(1, p(x) / q(x))
            continue
        residual = (p - q).clamp_min(0)
        if residual.sum() <= 0:  # p == q: cannot happen after a rejection, except by rounding
            residual = p
        token = int(torch.multinomial(residual / residual.sum(), 1, generator=generator))
        return list(draft_ids[:i]) + [token], i
    bonus = int(torch.multinomial(target_probs[k].double(), 1, generator=generator))
    return list(draft_ids) + [bonus], k


def next_num_drafts(current: int, accepted: int, max_drafts: int) -> int:
    """Adapt the draft length to the acceptance: grow after a fully accepted run, else shrink to
    just past what was accepted (a wasted draft token costs a target position per step)."""
    if accepted == current:
        return min(max_drafts, current + 1)
    return max(1, accepted + 1)


def sample_from(probs: torch.Tensor, generator: torch.Generator | None = None) -> int:
    """One token from a (V,) distribution; a one-hot (greedy) row spends no randomness."""
    if probs.max() == 1.0:
        return int(probs.argmax())
    return int(torch.multinomial(probs, 1, generator=generator))
