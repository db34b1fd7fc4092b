"""A cross-encoder reranker from our MiniLM-BERT: query and passage go in together as one pair
([CLS] query [SEP] passage [SEP]), so every query token attends to every passage token, and a linear head
on the final [CLS] state gives a relevance logit. Slower than comparing two precomputed embeddings (one
forward pass per candidate), so it only reorders the top candidates of a first-stage retriever.

Trained with binary cross-entropy on (query, relevant passage) = 1 and (query, hard negative) = 0 pairs,
the hard negatives being BM25's best non-relevant passages for that query.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from torch import nn

from groundup.models.bert import Bert, encode_texts


class CrossEncoder(nn.Module):
    def __init__(self, bert: Bert | None = None, max_length: int = 128):
        super().__init__()
        self.bert = bert if bert is not None else Bert.from_pretrained()
        self.head = nn.Linear(self.bert.cfg.n_embd, 1)
        self.max_length = max_length

    def forward(self, queries: list[str], passages: list[str]) -> torch.Tensor:
        """Relevance logits (B,) for the pairs."""
        batch = encode_texts(self.bert.tokenizer, list(zip(queries, passages)), self.max_length)
        hidden = self.bert(batch.input_ids, batch.attention_mask, batch.token_type_ids).last_hidden_state
        return self.head(hidden[:, 0]).squeeze(-1)  # (B, C) [CLS] -> (B,)

    @torch.no_grad()
    def scores(self, query: str, passages: list[str], batch_size: int = 16) -> list[float]:
        was = self.training
        self.eval()
        out = []
        for i in range(0, len(passages), batch_size):
            part = passages[i : i + batch_size]
            out += self([query] * len(part), part).tolist()
        self.train(was)
        return out

    def rerank(self, query: str, candidates: list[int], texts: list[str]) -> list[tuple[int, float]]:
        s = self.scores(query, [texts[i] for i in candidates])
        return sorted(zip(candidates, s), key=lambda kv: -kv[1])


def train_cross_encoder(
    model: CrossEncoder,
    pairs: list[tuple[str, str, float]],
    epochs: int = 1,
    batch_size: int = 16,
    lr: float = 3e-5,
    seed: int = 0,
) -> list[float]:
    """Fine-tune on (query, passage, label) pairs with BCE; returns the loss of every step."""
    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    losses = []
    for _ in range(epochs):
        order = list(pairs)
        rng.shuffle(order)
        for i in range(0, len(order), batch_size):
            q, p, y = zip(*order[i : i + batch_size])
            loss = F.binary_cross_entropy_with_logits(model(list(q), list(p)), torch.tensor(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    model.eval()
    return losses
