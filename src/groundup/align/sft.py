"""Supervised fine-tuning (instruction tuning): next-token cross-entropy on the response only.

The prompt is given, not generated, so its tokens carry no loss: with mask m_t = 1 on response
tokens,

    L = - Σ_t m_t log p(x_{t+1} | x_≤t) / Σ_t m_t

which is `F.cross_entropy(..., ignore_index=-100)` with the prompt labels set to -100 (what
transformers' causal-LM loss does). A masked position contributes exactly zero gradient to its logits.
Response perplexity exp(L) on held-out examples measures what SFT taught.
"""

from __future__ import annotations

import math

import torch

from groundup.align.batch import Batch, token_logprobs


def sft_loss(model, batch: Batch) -> torch.Tensor:
    """Mean negative log-likelihood per response token (prompt and padding masked out)."""
    n_tokens = batch.response_mask[:, 1:].sum()
    if n_tokens == 0:
        raise ValueError("the batch has no response tokens to learn from")
    return -token_logprobs(model, batch).sum() / n_tokens


@torch.no_grad()
def response_perplexity(model, batches: list[Batch]) -> float:
    """exp(mean NLL per response token) over all batches (token-weighted, not batch-weighted)."""
    total, count = 0.0, 0
    for batch in batches:
        total -= token_logprobs(model, batch).sum().item()
        count += int(batch.response_mask[:, 1:].sum())
    return math.exp(total / count)
