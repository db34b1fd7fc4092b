"""Batched sampling (left-padded prompts, shared prefill, finished rows leaving) equals one prompt at a time."""

import pytest
import torch

from groundup.align.batch import format_prompt
from groundup.align.rollout import sample_batch

pytestmark = pytest.mark.module("3.5")


def _greedy_alone(model, tok, prompt, max_new_tokens):
    ids = tok.encode(format_prompt(tok, prompt), add_bos=False)
    out = []
    for _ in range(max_new_tokens):
        nxt = int(model(torch.tensor([ids + out]))[0, -1].argmax())
        if nxt == tok.eos_token_id:
            return out, True
        out.append(nxt)
    return out, False


@torch.no_grad()
def test_greedy_batch_equals_each_prompt_alone(byte_llama, byte_tokenizer):
    with torch.no_grad():
        byte_llama.lm_head.weight.mul_(0.02)  # flatter logits: rows differ and some stop early
        byte_llama.lm_head.weight[byte_tokenizer.eos_token_id] *= 10
    prompts = ["Hi?", "What is the time now?", "Why is the sky blue, my friend?", "Go"]
    rows = sample_batch(byte_llama, byte_tokenizer, prompts, n=2, max_new_tokens=12, temperature=0.0)
    finished = []
    for prompt, pair in zip(prompts, rows):
        ids, done = _greedy_alone(byte_llama, byte_tokenizer, prompt, 12)
        for r in pair:
            assert (r.prompt, r.token_ids, r.finished) == (prompt, ids, done)
        finished.append(done)
    assert any(finished) and not all(finished)  # rows left the batch while others decoded on


def test_sampled_rows_of_one_prompt_differ_and_are_reproducible(byte_llama, byte_tokenizer):
    with torch.no_grad():
        byte_llama.lm_head.weight.mul_(0.02)
    a = sample_batch(byte_llama, byte_tokenizer, ["Hi?", "Tell me more"], n=3, max_new_tokens=8, seed=1)
    b = sample_batch(byte_llama, byte_tokenizer, ["Hi?", "Tell me more"], n=3, max_new_tokens=8, seed=1)
    assert [[r.token_ids for r in p] for p in a] == [[r.token_ids for r in p] for p in b]
    assert len({tuple(r.token_ids) for r in a[0]}) > 1
    with pytest.raises(ValueError, match="n and max_new_tokens"):
        sample_batch(byte_llama, byte_tokenizer, ["Hi?"], n=0)
