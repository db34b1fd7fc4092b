"""MHA/GQA/MQA, sliding-window and ALiBi attention of the shared stack, against references."""

from __future__ import annotations

import math

import pytest
import torch

from groundup.models.diff_attention import DiffAttention, lambda_init
from groundup.models.layers import (
    Attention,
    ContiguousKVCache,
    NoCache,
    alibi_slopes,
    attention_bias,
)

pytestmark = pytest.mark.module("3.4")


def reference_attention(attn: Attention, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Attention written out with transformers' `repeat_kv` for the head groups and an explicit
    softmax over q k^T / sqrt(d) + bias (bias (H or 1, T, T))."""
    pytest.importorskip("transformers")
    from transformers.models.llama.modeling_llama import repeat_kv

    B, T, _ = x.shape
    H, Hkv, D = attn.n_heads, attn.n_kv_heads, attn.head_dim
    q, k, v = attn.qkv(x).split([H * D, Hkv * D, Hkv * D], dim=-1)
    q = q.view(B, T, H, D).transpose(1, 2)
    k, v = (repeat_kv(t.view(B, T, Hkv, D).transpose(1, 2), H // Hkv) for t in (k, v))  # (B, H, T, D)
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + bias, dim=-1)
    return attn.out((weights @ v).transpose(1, 2).reshape(B, T, H * D))


def causal_bias(T: int) -> torch.Tensor:
    return torch.full((T, T), -math.inf).triu(1)[None]


@pytest.mark.parametrize("n_kv_heads", [4, 2, 1])  # MHA, GQA, MQA
def test_grouped_heads_follow_repeat_kv(n_kv_heads):
    torch.manual_seed(0)
    attn = Attention(32, 4, n_kv_heads).double()
    x = torch.randn(2, 9, 32, dtype=torch.float64)
    ours = attn(x, NoCache(), 0)
    torch.testing.assert_close(
        ours, reference_attention(attn, x, causal_bias(9).double()), atol=1e-12, rtol=0
    )
    assert attn.qkv.out_features == (4 + 2 * n_kv_heads) * 8  # K/V projections shrink with the groups


def test_query_head_h_reads_kv_head_h_over_group_size():
    """Changing K/V head 1 changes exactly query heads 2 and 3 when 4 heads share 2 K/V heads."""
    torch.manual_seed(1)
    q, k, v = torch.randn(1, 5, 4, 8), torch.randn(1, 5, 2, 8), torch.randn(1, 5, 2, 8)
    before = NoCache().attend(0, q, k, v)
    v2 = v.clone()
    v2[:, :, 1] += 1.0
    changed = (NoCache().attend(0, q, k, v2) - before).abs().amax(dim=(0, 1, 3)) > 0  # (H,)
    assert changed.tolist() == [False, False, True, True]


def test_heads_not_divisible_by_kv_groups_is_refused():
    with pytest.raises(ValueError, match="n_kv_heads"):
        Attention(32, 4, 3)


@pytest.mark.parametrize("window", [1, 3, 9, 20])
def test_sliding_window_equals_the_masked_definition(window):
    torch.manual_seed(2)
    attn = Attention(32, 4, 2).double()
    x = torch.randn(2, 9, 32, dtype=torch.float64)
    i, j = torch.arange(9)[:, None], torch.arange(9)[None, :]
    bias = torch.where((j <= i) & (j > i - window), 0.0, -math.inf)[None].double()
    ours = attn(x, NoCache(window=window), 0)
    torch.testing.assert_close(ours, reference_attention(attn, x, bias), atol=1e-12, rtol=0)
    if window >= 9:  # a window as long as the sequence is plain causal attention
        torch.testing.assert_close(ours, attn(x, NoCache(), 0), atol=1e-12, rtol=0)


def test_alibi_slopes_follow_the_paper():
    assert alibi_slopes(8).tolist() == [2.0 ** (-k) for k in range(1, 9)]  # 2^(-8h/8)
    assert alibi_slopes(4).tolist() == [2.0 ** (-2 * k) for k in range(1, 5)]
    # 6 heads: the 4-head slopes, then every other slope of the 8-head set
    assert alibi_slopes(6).tolist() == [0.25, 0.0625, 2**-6, 2**-8, 0.5, 2**-3]


@pytest.mark.parametrize("n_heads", [4, 6, 12])
def test_alibi_matches_transformers_bloom(n_heads):
    """BLOOM adds slope * j (key position); ours adds -slope * (i - j). They differ by slope * i, the same
    for every key of a row, so the softmax weights are equal."""
    pytest.importorskip("transformers")
    from transformers.models.bloom.modeling_bloom import build_alibi_tensor

    T = 7
    bloom = build_alibi_tensor(torch.ones(1, T), n_heads, torch.float32)  # (H, 1, T): slope_h * j
    torch.testing.assert_close(bloom[:, 0, 1], alibi_slopes(n_heads), atol=0, rtol=2e-7)  # float32 pow
    ours = attention_bias(torch.arange(T), torch.arange(T), alibi_slopes=alibi_slopes(n_heads))  # (H, T, T)
    theirs = bloom + causal_bias(T)
    scores = torch.randn(n_heads, T, T)
    torch.testing.assert_close(
        (scores + ours).softmax(-1), (scores + theirs).softmax(-1), atol=1e-6, rtol=1e-5
    )


def test_alibi_attention_equals_the_explicit_bias():
    torch.manual_seed(3)
    attn = Attention(32, 4).double()
    x = torch.randn(2, 9, 32, dtype=torch.float64)
    slopes = alibi_slopes(4).double()
    i, j = torch.arange(9)[:, None], torch.arange(9)[None, :]
    bias = -slopes[:, None, None] * (i - j) + causal_bias(9).double()
    ours = attn(x, NoCache(alibi_slopes=slopes), 0)
    torch.testing.assert_close(ours, reference_attention(attn, x, bias), atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    "options",
    [{"window": 4}, {"alibi_slopes": alibi_slopes(4)}, {"window": 3, "alibi_slopes": alibi_slopes(4)}],
)
def test_cached_decoding_equals_the_full_forward(options):
    torch.manual_seed(4)
    attn = Attention(32, 4, 2)
    x = torch.randn(2, 12, 32)
    full = attn(x, NoCache(**options), 0)
    cache = ContiguousKVCache(1, 2, 12, 2, 8, **options)
    steps = [attn(x[:, :5], cache, 0)] + [attn(x[:, t : t + 1], cache, 0) for t in range(5, 12)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


def test_window_beyond_the_context_is_refused():
    with pytest.raises(ValueError, match="window"):
        ContiguousKVCache(1, 1, 16, 2, 8, window=17)
    with pytest.raises(ValueError, match="window"):
        NoCache(window=0)


# ---- differential attention --------------------------------------------------------------------------


def test_diff_attention_equals_the_papers_formula():
    """(softmax(Q1 K1^T / sqrt d) - lambda softmax(Q2 K2^T / sqrt d)) V per head, causal, then the
    per-head RMS norm times (1 - lambda_init) and the output projection, written out directly."""
    torch.manual_seed(5)
    attn = DiffAttention(32, 2, layer=3).double()
    x = torch.randn(2, 7, 32, dtype=torch.float64)
    h, d, T = 2, 8, 7
    q, k = attn.q(x).view(2, T, 2, h, d), attn.k(x).view(2, T, 2, h, d)  # (B, T, map, h, d)
    v = attn.v(x).view(2, T, h, 2 * d).transpose(1, 2)  # (B, h, T, 2d)
    maps = [
        torch.softmax(
            q[:, :, m].transpose(1, 2) @ k[:, :, m].permute(0, 2, 3, 1) / math.sqrt(d) + causal_bias(T), -1
        )
        for m in range(2)
    ]  # (B, h, T, T) each
    lq1, lk1, lq2, lk2 = attn.lambdas
    lam = torch.exp(lq1 @ lk1) - torch.exp(lq2 @ lk2) + lambda_init(3)
    y = ((maps[0] - lam * maps[1]) @ v).transpose(1, 2)  # (B, T, h, 2d)
    y = (
        y
        / torch.sqrt(y.pow(2).mean(-1, keepdim=True) + attn.norm.eps)
        * attn.norm.weight
        * (1 - lambda_init(3))
    )
    ref = attn.out(y.reshape(2, T, 32))
    # the shared RMSNorm normalizes in float32 even for float64 inputs: agreement to float32 precision
    torch.testing.assert_close(attn(x, NoCache(), 0), ref, atol=1e-6, rtol=0)
    assert lambda_init(0) == pytest.approx(0.2) and lambda_init(50) == pytest.approx(0.8, abs=1e-6)


def test_diff_attention_decodes_through_the_kv_cache():
    torch.manual_seed(6)
    attn = DiffAttention(32, 2, layer=1)
    x = torch.randn(2, 10, 32)
    full = attn(x, NoCache(), 0)
    cache = ContiguousKVCache(1, 2, 10, 4, 16)  # 2h maps of width 2d
    steps = [attn(x[:, :4], cache, 0)] + [attn(x[:, t : t + 1], cache, 0) for t in range(4, 10)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


def test_diff_attention_heads_must_split_the_width():
    with pytest.raises(ValueError, match="n_heads"):
        DiffAttention(30, 4)
