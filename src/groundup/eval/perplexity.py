"""Perplexity with a sliding window: how surprised a language model is by a text.

    PPL = exp( - (1/N) * sum_i log p(x_i | x_<i) )

A model sees at most `context_length` tokens, so a long text is scored in windows. Each window
starts `stride` tokens after the previous one and scores only the tokens the previous window did not
(its last `end - previous_end` tokens); the rest is context. stride = context_length gives disjoint
chunks (fast, pessimistic: early tokens of each chunk have little context, and the first token of each
chunk is not scored at all, having none); a smaller stride gives every scored token more context at the
cost of more forward passes. This is the recipe of
transformers' "Perplexity of fixed-length models" guide, done with exact per-token sums.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm import tqdm


@dataclass(frozen=True)
class PerplexityResult:
    perplexity: float
    nll: float  # mean negative log likelihood per scored token (nats)
    n_tokens: int  # tokens scored (every token but the first)
    n_windows: int
    context_length: int
    stride: int


def windows(n_tokens: int, context_length: int, stride: int) -> list[tuple[int, int, int]]:
    """(begin, end, n_scored) per window over tokens[0:n_tokens]. With stride < context_length they
    score tokens 1..n-1 once each; a window never scores its own first token (nothing predicts it)."""
    if context_length < 2:
        raise ValueError(f"context_length={context_length} must be >= 2")
    if not 1 <= stride <= context_length:
        raise ValueError(f"stride={stride} must be between 1 and context_length ({context_length})")
    out, previous_end = [], 0
    for begin in range(0, n_tokens, stride):
        end = min(begin + context_length, n_tokens)
        scored = min(end - previous_end, end - begin - 1)
        out.append((begin, end, scored))
        previous_end = end
        if end == n_tokens:
            break
    return out


@torch.inference_mode()
def perplexity(
    model, token_ids: Sequence[int], context_length: int = 1024, stride: int = 512, progress: bool = False
) -> PerplexityResult:
    """Sliding-window perplexity of a `CausalLM` (`groundup.models.layers`) on `token_ids`: each window
    runs one causal forward, with the head only on the rows that predict scored tokens."""
    if len(token_ids) < 2:
        raise ValueError("token_ids: need at least 2 tokens to measure perplexity")
    context_length = min(context_length, model.max_context)  # the model cannot see further
    stride = min(stride, context_length)
    ids = torch.tensor(list(token_ids))
    total_nll, total_tokens = 0.0, 0
    spans = windows(len(ids), context_length, stride)
    for begin, end, scored in tqdm(spans, desc="perplexity", unit="window", disable=not progress):
        x = ids[begin:end][None]  # (1, T)
        first = x.shape[1] - 1 - scored  # logits row predicting the first scored token
        logits = model(x, logits_index=slice(first, -1))  # (1, scored, V)
        targets = x[0, first + 1 :]  # (scored,)
        total_nll += float(F.cross_entropy(logits[0].float(), targets, reduction="sum"))
        total_tokens += scored
    nll = total_nll / total_tokens
    return PerplexityResult(math.exp(nll), nll, total_tokens, len(spans), context_length, stride)
