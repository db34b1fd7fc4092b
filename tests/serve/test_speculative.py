"""Speculative decoding keeps the target's distribution: chi-square tests of rejection sampling,
alone on known distributions and inside the engine on the tiny model; prompt-lookup drafting."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from groundup.generate import SamplingParams, sampling_probs
from groundup.serve.engine import Engine, EngineConfig
from groundup.serve.speculative import next_num_drafts, propose_ngram, verify

pytestmark = pytest.mark.module("2.2")


def chi2_pvalue(samples, probs):
    """Goodness of fit of integer samples to `probs`, pooling bins expected below 5."""
    n = len(samples)
    counts = np.bincount(samples, minlength=len(probs)).astype(float)
    expected = np.asarray(probs, dtype=float) * n
    big = expected >= 5
    obs = np.append(counts[big], counts[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    keep = exp > 0
    return chisquare(obs[keep], exp[keep] * obs[keep].sum() / exp[keep].sum()).pvalue


def test_propose_ngram_copies_what_followed_the_last_match():
    assert propose_ngram([1, 2, 3, 4, 9, 2, 3], k=2) == [4, 9]
    assert propose_ngram([5, 1, 7, 1], k=3) == [7, 1]  # 1-gram fallback
    assert propose_ngram([1, 2, 3], k=3) == []
    assert next_num_drafts(4, 4, 6) == 5 and next_num_drafts(4, 1, 6) == 2


@pytest.mark.parametrize("deterministic_draft", [True, False])
def test_rejection_sampling_emits_target_distribution(deterministic_draft):
    """Every emitted position is distributed as the target (Leviathan et al., Theorem 1)."""
    gen = torch.Generator().manual_seed(0)
    V, k, N = 6, 3, 6000
    target = torch.softmax(torch.randn(k + 1, V, generator=gen, dtype=torch.float64), -1)
    draft = torch.softmax(torch.randn(k, V, generator=gen, dtype=torch.float64) * 2, -1)
    firsts, seconds = [], []
    for _ in range(N):
        if deterministic_draft:
            ids, q = [2, 2, 5], None
        else:
            ids = [int(torch.multinomial(draft[i], 1, generator=gen)) for i in range(k)]
            q = draft
        out, accepted = verify(ids, target, q, gen)
        assert len(out) == accepted + 1
        firsts.append(out[0])
        if accepted >= 1 or len(out) > 1:
            seconds.append(out[1]) if len(out) > 1 else None
    assert chi2_pvalue(firsts, target[0].numpy()) > 1e-3
    # the second token is only emitted when the first draft was accepted; positions are
    # independent here, so given that, it follows target[1]
    assert chi2_pvalue(seconds, target[1].numpy()) > 1e-3


def test_greedy_verification_accepts_exactly_the_argmax_prefix():
    target = torch.nn.functional.one_hot(torch.tensor([3, 1, 4, 0]), 5).double()
    assert verify([3, 1, 2], target) == ([3, 1, 4], 2)
    assert verify([3, 1, 4], target) == ([3, 1, 4, 0], 3)


@pytest.mark.parametrize("mode", ["ngram", "draft"])
def test_engine_sampling_with_speculation_matches_the_target(tiny_model, mode):
    """Second-token marginal over 400 seeded requests vs the exact target marginal
    P(t2) = sum_t1 p(t1 | prompt) p(t2 | prompt, t1)."""
    params = SamplingParams(temperature=1.0, max_tokens=3)
    rng = random.Random(7)
    prompt = rng.sample(range(96), 96)  # every token occurs once: a lookup draft exists at every step
    with torch.inference_mode():
        p1 = sampling_probs(tiny_model.full_logits(prompt)[-1:], params)[0].double()
        marginal = torch.zeros_like(p1)
        for t1 in torch.nonzero(p1 > 1e-4).flatten().tolist():
            p2 = sampling_probs(tiny_model.full_logits(prompt + [t1])[-1:], params)[0].double()
            marginal += p1[t1] * p2
    engine = Engine(tiny_model, EngineConfig(num_blocks=512, block_size=4, max_running=64, speculative=mode))  # noqa: E501
    seqs = [engine.add_request(prompt, replace(params, seed=i)) for i in range(400)]
    while engine.has_work():
        engine.step()
    assert engine.metrics.drafted > 0 and engine.block_manager.num_free == 512
    seconds = [s.output_ids[1] for s in seqs]
    assert chi2_pvalue(seconds, (marginal / marginal.sum()).numpy()) > 1e-3
    assert len(Counter(seconds)) > 3  # really sampled, not greedy
