"""Sampling many answers at once: every prompt × n samples in one KV-cached batch.

A 135M model decoding one row at a time is bound by reading its weights (≈0.5 GB per step), so the
cost of a step barely grows with the number of rows: all prompts go in one batch. Prompts of
different lengths are left-padded; explicit positions and the cache's padding mask make each row
decode exactly as it would alone. Each prompt is prefilled once and its cache rows repeated n times;
rows that emit the end token leave the batch, so finished answers cost nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from groundup.align.batch import format_prompt
from groundup.generate.sampling import SamplingParams, make_generator, sample


@dataclass
class Rollout:
    """One sampled answer: its text, whether it ended with the end token, and its token ids (without
    the end token)."""

    prompt: str
    text: str
    finished: bool
    token_ids: list[int]


def _left_pad(rows: list[list[int]], pad_id: int = 0):
    """(ids (B, T), valid (B, T), positions (B, T)) for left-padded rows."""
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad_id] * (width - len(r)) + r for r in rows])
    valid = torch.tensor([[False] * (width - len(r)) + [True] * len(r) for r in rows])
    return ids, valid, (valid.long().cumsum(-1) - 1).clamp(min=0)


@torch.no_grad()
def _decode(model, prompt_ids: list[list[int]], n, max_new_tokens, params, generator, eos_id):
    ids, valid, positions = _left_pad(prompt_ids)
    cache = model.new_cache(batch_size=len(ids), max_len=ids.shape[1] + max_new_tokens)
    cache.mask_padding(valid)
    logits = model(ids, positions, cache, logits_index=slice(-1, None))[:, -1]  # (P, V)
    rows = torch.arange(len(ids)).repeat_interleave(n)  # (P·n,) prompt of each row
    cache.reorder(rows)
    logits, position = logits[rows], positions[rows, -1]  # (R, V), (R,)
    active = torch.arange(len(rows))  # the output row of each batch row
    out, finished = [[] for _ in rows], [False] * len(rows)
    for _ in range(max_new_tokens):
        next_id = sample(logits, params, generator)  # (R,)
        keep = []
        for i, (row, token) in enumerate(zip(active.tolist(), next_id.tolist())):
            if token == eos_id:
                finished[row] = True
            else:
                out[row].append(token)
                keep.append(i)
        if not keep:
            break
        if len(keep) < len(active):
            keep = torch.tensor(keep)
            cache.reorder(keep)
            active, next_id, position = active[keep], next_id[keep], position[keep]
        position = position + 1
        logits = model(next_id[:, None], position[:, None], cache)[:, -1]  # (R, V)
    return out, finished


def sample_batch(
    model,
    tokenizer,
    prompts: Sequence[str],
    n: int = 1,
    max_new_tokens: int = 48,
    temperature: float = 1.0,
    top_p: float = 0.95,
    seed: int = 0,
    max_rows: int = 96,
) -> list[list[Rollout]]:
    """n sampled chat answers per prompt, as [[Rollout] * n] * len(prompts); at most `max_rows` rows
    decode together."""
    if n < 1 or max_new_tokens < 1:
        raise ValueError(f"n and max_new_tokens must be >= 1, got {n} and {max_new_tokens}")
    params = SamplingParams(temperature=temperature, top_p=top_p)
    generator = make_generator(seed)
    per_call = max(1, max_rows // n)
    results = []
    for start in range(0, len(prompts), per_call):
        chunk = prompts[start : start + per_call]
        ids = [tokenizer.encode(format_prompt(tokenizer, p), add_bos=False) for p in chunk]
        out, finished = _decode(model, ids, n, max_new_tokens, params, generator, tokenizer.eos_token_id)
        for j, prompt in enumerate(chunk):
            rows = range(j * n, (j + 1) * n)
            results.append(
                [Rollout(prompt, tokenizer.decode(out[r]).strip(), finished[r], out[r]) for r in rows]
            )
    return results
