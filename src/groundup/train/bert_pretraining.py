"""BERT's two pretraining objectives (Devlin et al. 2019, section 3.1) and a small pretraining loop.

Masked language modelling. In each sequence, 15% of the real (non-special, non-padding) positions are
chosen at random: round(0.15 · n), at least one, as the original `create_pretraining_data.py` does.
Of the chosen positions 80% become [MASK], 10% a random vocabulary token and 10% stay unchanged; the
model must predict the original token at every chosen position (the loss ignores all others, label
-100). The random and unchanged cases keep the model from learning that only [MASK] needs predicting.

Next-sentence prediction. Pairs (A, B): half the time B is the sentence that follows A in its
document (label 0, "is next"), half the time a sentence from another document (label 1, "random").
The pooled [CLS] state feeds a 2-way classifier; the pretraining loss is MLM + NSP.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import torch
import torch.nn.functional as F

IGNORE = -100  # cross-entropy's ignore_index: positions that were not chosen


def mask_tokens(
    input_ids: torch.Tensor,
    eligible: torch.Tensor,
    *,
    mask_id: int,
    vocab_size: int,
    prob: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, labels) for MLM: input_ids (B, T), eligible (B, T) bool (False on [CLS]/[SEP]/[PAD]).

    Exactly round(prob · n_eligible) positions per row (at least one when any is eligible) are chosen
    uniformly; of those 80% -> mask_id, 10% -> a uniform random id, 10% unchanged. labels hold the
    original id at chosen positions and IGNORE elsewhere.
    """
    if not 0.0 < prob < 1.0:
        raise ValueError(f"prob must be in (0, 1), got {prob}")
    n = eligible.sum(1)  # (B,)
    k = torch.where(n > 0, (n.double() * prob).round().clamp(min=1).long(), 0)  # (B,)
    scores = torch.rand(input_ids.shape, generator=generator).masked_fill(~eligible, 2.0)  # ineligible last
    rank = scores.argsort(1).argsort(1)  # (B, T): 0 for the smallest score
    chosen = rank < k[:, None]
    labels = torch.where(chosen, input_ids, IGNORE)
    action = torch.rand(input_ids.shape, generator=generator)
    to_mask, to_random = chosen & (action < 0.8), chosen & (action >= 0.8) & (action < 0.9)
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator)
    inputs = torch.where(to_mask, mask_id, torch.where(to_random, random_ids, input_ids))
    return inputs, labels


def nsp_pairs(documents: list[list[str]], seed: int = 0) -> list[tuple[str, str, int]]:
    """(A, B, label) for every sentence that has a successor: B is that successor (label 0) or, with
    probability 1/2, a random sentence of a different document (label 1)."""
    if sum(len(d) > 0 for d in documents) < 2:
        raise ValueError("documents: next-sentence pairs need at least two non-empty documents")
    rng = random.Random(seed)
    pairs = []
    for d, doc in enumerate(documents):
        for i in range(len(doc) - 1):
            if rng.random() < 0.5:
                pairs.append((doc[i], doc[i + 1], 0))
                continue
            other = d
            while other == d or not documents[other]:
                other = rng.randrange(len(documents))
            pairs.append((doc[i], rng.choice(documents[other]), 1))
    return pairs


def pretraining_loss(
    mlm_logits: torch.Tensor, labels: torch.Tensor, nsp_logits: torch.Tensor | None = None, nsp_labels=None
) -> torch.Tensor:
    """Mean cross-entropy over the chosen positions, plus the NSP cross-entropy when given."""
    loss = F.cross_entropy(mlm_logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE)
    if nsp_logits is not None:
        loss = loss + F.cross_entropy(nsp_logits, nsp_labels)
    return loss


def pretrain(
    model,
    batches: Callable[[int], tuple[torch.Tensor, ...]],
    steps: int,
    *,
    lr: float = 1e-3,
    log: Callable[[int, float], None] | None = None,
) -> list[float]:
    """AdamW on `batches(step) -> (inputs, attention_mask, token_types, labels, nsp_labels)`; returns
    the loss of every step. `model` is a `BertForPreTraining`."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    losses = []
    for step in range(steps):
        inputs, mask, types, labels, nsp_labels = batches(step)
        mlm_logits, nsp_logits = model(inputs, mask, types)
        loss = pretraining_loss(mlm_logits, labels, nsp_logits, nsp_labels)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if log is not None:
            log(step, losses[-1])
    return losses
