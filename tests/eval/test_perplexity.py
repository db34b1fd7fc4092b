"""Sliding-window perplexity of SmolLM2 on WikiText-2 against transformers on the same windows."""

from __future__ import annotations

import math

import pytest
import torch

from groundup.data import load_text
from groundup.eval import perplexity, windows

pytestmark = pytest.mark.module("2.1")


def hf_perplexity(hf, ids, context_length, stride):
    """transformers' guide: labels -100 on context tokens, loss x number of scored tokens."""
    ids = torch.tensor([ids])
    nll_sum, n_tokens, prev_end = 0.0, 0, 0
    for begin in range(0, ids.shape[1], stride):
        end = min(begin + context_length, ids.shape[1])
        trg_len = end - prev_end
        x = ids[:, begin:end]
        labels = x.clone()
        labels[:, :-trg_len] = -100
        with torch.inference_mode():
            loss = hf(x, labels=labels).loss
        n_valid = int((labels[:, 1:] != -100).sum())  # the model shifts labels left by one
        nll_sum += float(loss) * n_valid
        n_tokens += n_valid
        prev_end = end
        if end == ids.shape[1]:
            break
    return math.exp(nll_sum / n_tokens), n_tokens


def test_windows_score_every_token_once():
    for n, ctx, stride in [(10, 4, 2), (9, 16, 8), (100, 32, 7)]:
        spans = windows(n, ctx, stride)
        assert sum(s for _, _, s in spans) == n - 1
        assert all(end - begin <= ctx for begin, end, _ in spans)
    with pytest.raises(ValueError, match="stride=0"):
        windows(10, 4, 0)


def test_disjoint_windows_skip_each_chunk_first_token():
    """stride == context_length: each chunk scores its own tokens 1..len-1, nothing else."""
    assert windows(10, 4, 4) == [(0, 4, 3), (4, 8, 3), (8, 10, 1)]
    torch.manual_seed(0)
    table = torch.randn(11, 11)

    class Bigram(torch.nn.Module):  # logits depend on the current token only
        max_context = 4

        def forward(self, x, positions=None, kv_cache=None, logits_index=slice(None)):
            return table[x][..., logits_index, :]

    ids = torch.randint(0, 11, (12,)).tolist()
    chunks = torch.tensor(ids).reshape(3, 4)
    logp = torch.log_softmax(table[chunks[:, :-1]], -1).gather(-1, chunks[:, 1:, None])
    result = perplexity(Bigram(), ids, context_length=4, stride=4)
    assert result.n_tokens == 9 and result.n_windows == 3
    assert math.isclose(result.perplexity, math.exp(-float(logp.mean())), rel_tol=1e-6)


@pytest.fixture(scope="module")
def wikitext_ids(data_dir, smollm2_tokenizer):
    text = load_text("wikitext2", "test")
    return smollm2_tokenizer.encode(text[:20000], add_bos=False)


def check(smollm2, hf_smollm2, ids, context_length, stride):
    ours = perplexity(smollm2, ids, context_length, stride)
    ref, n_ref = hf_perplexity(hf_smollm2, ids, context_length, stride)
    assert ours.n_tokens == n_ref == len(ids) - 1
    assert abs(ours.perplexity / ref - 1) < 0.005, (ours.perplexity, ref)
    return ours


def test_wikitext2_perplexity_equals_transformers(smollm2, hf_smollm2, wikitext_ids):
    """First 768 tokens of WikiText-2 test, windows of 256 tokens every 128."""
    check(smollm2, hf_smollm2, wikitext_ids[:768], 256, 128)


@pytest.mark.slow
def test_wikitext2_perplexity_4096_tokens_equals_transformers(smollm2, hf_smollm2, wikitext_ids):
    ours = check(smollm2, hf_smollm2, wikitext_ids[:4096], 1024, 512)
    assert 5 < ours.perplexity < 60  # a 135M model on Wikipedia text
