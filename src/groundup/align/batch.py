"""Prompt/response examples as one padded batch, and the log-probabilities a model gives the response.

Every alignment objective in this package scores a *response* given a *prompt*: SFT maximizes its
likelihood, DPO compares two responses' likelihoods under the policy and a frozen reference, the
reward model reads a scalar after the last response token. So they share one encoding:

    ids   = [prompt tokens (chat template applied)] [response tokens] [end-of-turn] [pad ...]
    mask  = [0 ...                                ] [1 ...          ] [1          ] [0 ...  ]

Padding goes on the right: with causal attention no real token ever attends to a pad, so no
attention mask is needed. Position t of the logits predicts token t+1, hence the shift by one below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from groundup.generate.chat import render_chat


@dataclass
class Batch:
    """input_ids (B, T) int64 right-padded; response_mask (B, T) bool marks response tokens (and the
    end-of-turn token); lengths (B,) the number of real tokens per row."""

    input_ids: torch.Tensor
    response_mask: torch.Tensor
    lengths: torch.Tensor

    def __len__(self) -> int:
        return self.input_ids.shape[0]


def format_prompt(tokenizer, prompt: str, chat: bool = True) -> str:
    """The text the model sees before its answer: the chat template with a generation prompt when
    the tokenizer carries one (SmolLM2-Instruct does), else the prompt itself."""
    if chat and getattr(tokenizer, "chat_template", None):
        return render_chat(tokenizer.chat_template, [{"role": "user", "content": prompt}])
    return prompt


def encode_examples(
    tokenizer,
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    chat: bool = True,
    max_len: int = 256,
    pad_id: int = 0,
) -> Batch:
    """Tokenize (prompt, response) pairs into one right-padded Batch. The response ends with the
    tokenizer's end token, so the model also learns where to stop. Rows longer than `max_len` keep
    their prompt and lose the end of the response."""
    if len(prompts) != len(responses):
        raise ValueError(f"prompts and responses differ in length: {len(prompts)} vs {len(responses)}")
    if not prompts:
        raise ValueError("prompts is empty")
    end = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    prompt_ids = [tokenizer.encode(format_prompt(tokenizer, p, chat), add_bos=False) for p in prompts]
    response_ids = [tokenizer.encode(r, add_bos=False, add_eos=False) + end for r in responses]
    return batch_from_ids(prompt_ids, response_ids, max_len=max_len, pad_id=pad_id)


def batch_from_ids(
    prompt_ids: Sequence[list[int]], response_ids: Sequence[list[int]], *, max_len: int = 256, pad_id: int = 0
) -> Batch:
    """The Batch of already tokenized (prompt, response) pairs, e.g. the exact tokens a policy sampled
    (re-tokenizing decoded text can split it differently)."""
    rows, masks = [], []
    for p, r in zip(prompt_ids, response_ids):
        if len(p) >= max_len:
            raise ValueError(f"max_len={max_len} leaves no room for the response of a {len(p)}-token prompt")
        ids = (list(p) + list(r))[:max_len]
        rows.append(ids)
        masks.append([False] * len(p) + [True] * (len(ids) - len(p)))
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    response_mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for i, (ids, m) in enumerate(zip(rows, masks)):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        response_mask[i, : len(m)] = torch.tensor(m)
    return Batch(input_ids, response_mask, torch.tensor([len(r) for r in rows]))


def token_logprobs(model, batch: Batch) -> torch.Tensor:
    """(B, T-1): log p(token t+1 | tokens ≤ t) at response positions, 0 elsewhere.

    The head (the largest matmul of a small LM) runs only from the earliest position that predicts
    a response token: `logits_index` skips the prompt all rows share."""
    start = max(int(batch.response_mask.int().argmax(1).min()) - 1, 0)  # first position predicting a response
    logits = model(batch.input_ids, logits_index=slice(start, -1)).float()  # (B, T-1-start, V)
    targets = batch.input_ids[:, start + 1 :]  # (B, T-1-start)
    logp = torch.gather(F.log_softmax(logits, dim=-1), -1, targets.unsqueeze(-1)).squeeze(-1)
    logp = F.pad(logp, (start, 0))  # (B, T-1)
    return logp * batch.response_mask[:, 1:]


def sequence_logprobs(model, batch: Batch) -> torch.Tensor:
    """(B,): log π(response | prompt), the sum of the response's token log-probabilities."""
    return token_logprobs(model, batch).sum(dim=1)
