"""Sampling filters against hand-computed distributions and transformers' logits processors."""

from __future__ import annotations

import math

import pytest
import torch

from groundup.generate import (
    SamplingParams,
    apply_penalties,
    make_generator,
    min_p_filter,
    sample,
    sampling_probs,
    top_k_filter,
    top_p_filter,
)

pytestmark = pytest.mark.module("2.1")
lp = pytest.importorskip("transformers.generation.logits_process")

INF = float("-inf")


def probs_of(logits):
    return logits.softmax(-1)


def test_temperature_distribution_by_hand():
    logits = torch.tensor([[1.0, 2.0, 3.0]])
    p = sampling_probs(logits, SamplingParams(temperature=0.5))
    e = [math.exp(2 * x) for x in (1, 2, 3)]
    torch.testing.assert_close(p, torch.tensor([[v / sum(e) for v in e]]))


def test_top_k_by_hand_with_ties_and_large_k():
    logits = torch.tensor([[1.0, 3.0, 2.0, 3.0, 0.0]])
    torch.testing.assert_close(top_k_filter(logits, 1), torch.tensor([[INF, 3.0, INF, 3.0, INF]]))  # tie kept
    torch.testing.assert_close(top_k_filter(logits, 3), torch.tensor([[INF, 3.0, 2.0, 3.0, INF]]))
    assert torch.equal(top_k_filter(logits, 99), logits) and torch.equal(top_k_filter(logits, 0), logits)


def test_top_p_by_hand_including_boundary_ties_and_p_one():
    probs = torch.tensor([[0.5, 0.2, 0.2, 0.1]])
    logits = probs.log()
    kept = lambda p: torch.isfinite(top_p_filter(logits, p))  # noqa: E731
    assert kept(0.5).tolist() == [[True, False, False, False]]  # 0.5 alone reaches p = 0.5
    assert kept(0.6).tolist() == [[True, True, True, False]]  # second 0.2 is tied with the last needed
    assert kept(0.95).tolist() == [[True, True, True, True]]
    assert torch.equal(top_p_filter(logits, 1.0), logits)
    assert kept(1e-6).tolist() == [[True, False, False, False]]  # at least one token survives
    p = probs_of(top_p_filter(logits, 0.6))
    torch.testing.assert_close(p, torch.tensor([[0.5 / 0.9, 0.2 / 0.9, 0.2 / 0.9, 0.0]]))


def test_min_p_by_hand():
    probs = torch.tensor([[0.6, 0.25, 0.1, 0.05]])
    out = min_p_filter(probs.log(), 0.2)  # keep p >= 0.2 * 0.6 = 0.12
    assert torch.isfinite(out).tolist() == [[True, True, False, False]]
    torch.testing.assert_close(probs_of(out), torch.tensor([[0.6 / 0.85, 0.25 / 0.85, 0.0, 0.0]]))


def test_penalties_by_hand():
    logits = torch.tensor([[2.0, -1.0, 0.5, 1.0]])
    out = apply_penalties(logits, [[0, 1, 1]], repetition=2.0)
    torch.testing.assert_close(out, torch.tensor([[1.0, -2.0, 0.5, 1.0]]))
    out = apply_penalties(logits, [[0, 1, 1]], frequency=0.5, presence=0.25)
    torch.testing.assert_close(out, torch.tensor([[2.0 - 0.75, -1.0 - 1.25, 0.5, 1.0]]))


@pytest.mark.parametrize("seed", range(3))
def test_filters_equal_transformers_processors(seed):
    """On random logits without ties, each filter keeps exactly what transformers' warper keeps."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(4, 300, generator=g) * 3
    ids = torch.randint(0, 300, (4, 12), generator=g)
    cases = [
        (top_k_filter(logits, 17), lp.TopKLogitsWarper(17)(ids, logits.clone())),
        (top_p_filter(logits, 0.7), lp.TopPLogitsWarper(0.7)(ids, logits.clone())),
        (min_p_filter(logits, 0.05), lp.MinPLogitsWarper(0.05)(ids, logits.clone())),
        (
            apply_penalties(logits, ids.tolist(), repetition=1.3),
            lp.RepetitionPenaltyLogitsProcessor(1.3)(ids, logits.clone()),
        ),
    ]
    for ours, ref in cases:
        torch.testing.assert_close(ours, ref)


def test_pipeline_equals_transformers_warper_chain():
    g = torch.Generator().manual_seed(7)
    logits = torch.randn(2, 500, generator=g) * 2
    params = SamplingParams(temperature=0.7, top_k=50, top_p=0.9, min_p=0.02)
    chain = [
        lp.TemperatureLogitsWarper(0.7),
        lp.TopKLogitsWarper(50),
        lp.TopPLogitsWarper(0.9),
        lp.MinPLogitsWarper(0.02),
    ]
    ref = logits.clone()
    for proc in chain:
        ref = proc(None, ref)
    torch.testing.assert_close(sampling_probs(logits, params), ref.softmax(-1))


def test_greedy_and_seeded_sampling():
    logits = torch.tensor([[0.1, 2.0, 1.9]])
    assert sample(logits, SamplingParams(temperature=0)).tolist() == [1]
    wide = torch.randn(1, 1000, generator=torch.Generator().manual_seed(0))
    params = SamplingParams(temperature=1.0, seed=5)
    draws = lambda: [int(sample(wide, params, make_generator(5))) for _ in range(1)]  # noqa: E731
    assert draws() == draws()
    g = make_generator(11)
    first = [int(sample(wide, params, g)) for _ in range(20)]
    g = make_generator(11)
    assert first == [int(sample(wide, params, g)) for _ in range(20)]
    # a filtered-out token is never drawn
    params = SamplingParams(top_k=2)
    g = make_generator(0)
    assert {int(sample(logits, params, g)) for _ in range(200)} == {1, 2}


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"temperature": -0.1}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_k": -1}, "top_k"),
        ({"min_p": 2.0}, "min_p"),
        ({"repetition_penalty": 0.0}, "repetition_penalty"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
)
def test_invalid_values_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}="):
        SamplingParams(**kwargs)
