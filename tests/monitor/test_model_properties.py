"""Property suites for models (hypothesis): what must hold for every input, not just the examples.

- determinism: the same seed builds the same GPT and samples the same tokens;
- permutation equivariance: self-attention without positions (and without a causal mask) commutes
  with any reordering of the tokens;
- probability axioms: every sampling distribution is non-negative and sums to 1, and greedy is one-hot;
- scale invariance where it is claimed: RMSNorm and LayerNorm ignore a positive rescaling of their
  input, and a standardize-then-classify pipeline ignores a per-feature rescaling of the data;
- Lipschitz bounds of normalized layers: softmax is 1/2-Lipschitz, a spectrally normalized linear map
  is 1-Lipschitz, and RMSNorm is (sqrt(d) max|w| / r)-Lipschitz outside the ball of radius r.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.generate.sampling import SamplingParams, make_generator, sample, sampling_probs
from groundup.models.gpt import GPT, GPTConfig
from groundup.models.layers import Attention, NoCache, RMSNorm

pytestmark = pytest.mark.module("3.7")

seeds = st.integers(0, 2**31 - 1)
FAST = settings(max_examples=25, deadline=None)


def tiny_gpt(seed: int) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=17, block_size=8, n_layer=1, n_head=2, n_embd=16)).eval()


@given(seeds)
@settings(max_examples=8, deadline=None)
def test_same_seed_same_model_same_tokens(seed):
    a, b = tiny_gpt(seed), tiny_gpt(seed)
    ids = torch.randint(0, 17, (2, 8), generator=torch.Generator().manual_seed(seed))
    la, lb = a(ids), b(ids)
    assert torch.equal(la, lb)
    params = SamplingParams(temperature=1.0)
    ta = sample(la[:, -1], params, make_generator(seed))
    tb = sample(lb[:, -1], params, make_generator(seed))
    assert torch.equal(ta, tb)


@given(seeds, st.integers(2, 9), st.sampled_from([1, 2, 4]))
@FAST
def test_attention_without_positions_is_permutation_equivariant(seed, t, heads):
    torch.manual_seed(seed)
    attn = Attention(8, heads).double()
    x = torch.randn(2, t, 8, dtype=torch.float64)
    perm = torch.randperm(t)
    y = attn(x, NoCache(causal=False), 0)
    y_perm = attn(x[:, perm], NoCache(causal=False), 0)
    torch.testing.assert_close(y_perm, y[:, perm], rtol=1e-10, atol=1e-12)


@given(
    seeds,
    st.floats(0.05, 5.0),
    st.integers(0, 12),
    st.floats(0.05, 1.0),
    st.floats(0.0, 0.5),
    st.floats(1.0, 2.0),
)
@FAST
def test_sampling_distributions_obey_the_probability_axioms(seed, temperature, top_k, top_p, min_p, penalty):
    logits = torch.randn(3, 12, generator=torch.Generator().manual_seed(seed)) * 4
    params = SamplingParams(
        temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, repetition_penalty=penalty
    )
    probs = sampling_probs(logits, params, [[0, 1], [2], []])
    assert torch.all(probs >= 0)
    torch.testing.assert_close(probs.sum(-1), torch.ones(3))
    assert torch.all(probs.argmax(-1) == logits.argmax(-1)) or penalty > 1  # the mode survives every filter
    greedy = sampling_probs(logits, SamplingParams(temperature=0.0))
    assert torch.equal(greedy.sum(-1), torch.ones(3)) and torch.all((greedy == 0) | (greedy == 1))


@given(seeds, st.floats(1e-2, 1e3))
@FAST
def test_normalization_layers_ignore_a_positive_rescaling(seed, c):
    torch.manual_seed(seed)
    x = torch.randn(4, 16) + 0.5  # float32: RMSNorm computes in float32 whatever it is given
    rms, ln = RMSNorm(16, eps=0.0), torch.nn.LayerNorm(16, eps=0.0)
    torch.testing.assert_close(rms(c * x), rms(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ln(c * x), ln(x), rtol=1e-5, atol=1e-5)


@given(seeds, st.lists(st.floats(0.01, 100.0), min_size=4, max_size=4))
@settings(max_examples=10, deadline=None)
def test_standardized_classifier_ignores_per_feature_units(seed, scales):
    from groundup.classic.logistic import LogisticRegression
    from groundup.classic.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(80, 4))
    y = (X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.3 * rng.normal(size=80) > 0).astype(int)

    def predict(data):
        scaler = StandardScaler().fit(data)
        return (
            LogisticRegression(max_iter=300)
            .fit(scaler.transform(data), y)
            .predict_proba(scaler.transform(data))
        )

    np.testing.assert_allclose(predict(X * np.array(scales)), predict(X), atol=1e-5)


@given(seeds, st.floats(1e-3, 10.0))
@FAST
def test_softmax_is_half_lipschitz(seed, size):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(5, 10, generator=g, dtype=torch.float64) * 3
    y = x + size * torch.randn(5, 10, generator=g, dtype=torch.float64)
    gap = (x.softmax(-1) - y.softmax(-1)).norm(dim=-1)
    assert torch.all(gap <= 0.5 * (x - y).norm(dim=-1) + 1e-12)


@given(seeds)
@FAST
def test_spectrally_normalized_linear_is_one_lipschitz(seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(7, 5, generator=g, dtype=torch.float64)
    w = w / torch.linalg.matrix_norm(w, ord=2)
    x, y = torch.randn(2, 20, 5, generator=g, dtype=torch.float64)
    assert torch.all(((x - y) @ w.T).norm(dim=-1) <= (x - y).norm(dim=-1) + 1e-12)


@given(seeds, st.floats(0.5, 4.0))
@FAST
def test_rmsnorm_is_lipschitz_outside_a_ball(seed, r):
    g = torch.Generator().manual_seed(seed)
    d = 16
    norm = RMSNorm(d, eps=0.0).double()  # computes in float32: the bound gets a float32 slack
    with torch.no_grad():
        norm.weight.copy_(torch.rand(d, generator=g, dtype=torch.float64) * 2 - 1)
    x, y = torch.randn(2, 50, d, generator=g, dtype=torch.float64)
    x = x / x.norm(dim=-1, keepdim=True) * (r + torch.rand(50, 1, generator=g, dtype=torch.float64))
    y = x + 0.3 * torch.randn(50, d, generator=g, dtype=torch.float64)
    keep = y.norm(dim=-1) >= r
    bound = math.sqrt(d) * norm.weight.abs().max() / r
    gap = (norm(x) - norm(y)).norm(dim=-1)
    assert torch.all(gap[keep] <= bound * (x - y).norm(dim=-1)[keep] + 1e-5)
