"""Flash attention (PyTorch and Triton) against naive attention and torch's SDPA: values, gradients,
masks, grouped heads, and memory that grows linearly instead of quadratically."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.models.flash_attention import FlashAttention, flash_attention, naive_attention
from groundup.models.gpt import GPT, GPTConfig
from groundup.profiling.tensor_memory import peak_tensor_bytes

pytestmark = pytest.mark.module("3.4")


def inputs(B, H, Hkv, T, D, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, T, D, generator=g, dtype=dtype, requires_grad=True)
    k = torch.randn(B, Hkv, T, D, generator=g, dtype=dtype, requires_grad=True)
    v = torch.randn(B, Hkv, T, D, generator=g, dtype=dtype, requires_grad=True)
    return q, k, v


def right_padding(B: int, T: int, seed: int) -> torch.Tensor:
    """(B, T) True for real keys: each row keeps a random prefix of at least one key."""
    lengths = torch.randint(1, T + 1, (B,), generator=torch.Generator().manual_seed(seed))
    return torch.arange(T)[None, :] < lengths[:, None]


@settings(max_examples=25, deadline=None)
@given(
    T=st.integers(1, 40),
    groups=st.sampled_from([(4, 4), (4, 2), (4, 1), (6, 3)]),
    blocks=st.sampled_from([(8, 8), (16, 4), (5, 7), (64, 64)]),
    causal=st.booleans(),
    padded=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_flash_equals_naive_and_sdpa_with_gradients(T, groups, blocks, causal, padded, seed):
    (H, Hkv), (bq, bk) = groups, blocks
    q, k, v = inputs(2, H, Hkv, T, 8, seed)
    pad = right_padding(2, T, seed) if padded else None
    ours = flash_attention(q, k, v, causal=causal, key_padding_mask=pad, block_q=bq, block_k=bk)
    naive = naive_attention(q, k, v, causal=causal, key_padding_mask=pad)
    mask = None if pad is None else pad[:, None, None, :]
    if causal:
        tril = torch.ones(T, T, dtype=torch.bool).tril()
        mask = tril if mask is None else mask & tril
    sdpa = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=H != Hkv)
    torch.testing.assert_close(ours, naive, atol=1e-6, rtol=0)
    torch.testing.assert_close(ours, sdpa, atol=1e-6, rtol=0)
    grad = torch.randn_like(ours)
    for a, b in zip(torch.autograd.grad(ours, (q, k, v), grad), torch.autograd.grad(naive, (q, k, v), grad)):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_flash_passes_torch_gradcheck():
    q, k, v = inputs(1, 2, 1, 7, 3, seed=0)
    fn = lambda q, k, v: flash_attention(q, k, v, causal=True, block_q=3, block_k=2)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (q, k, v))


def test_query_sequence_longer_than_keys_and_custom_scale():
    g = torch.Generator().manual_seed(3)
    q = torch.randn(1, 2, 9, 8, generator=g, dtype=torch.float64)
    k, v = torch.randn(2, 1, 2, 13, 8, generator=g, dtype=torch.float64)
    ours = flash_attention(q, k, v, scale=0.3, block_q=4, block_k=5)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, scale=0.3), atol=1e-12, rtol=0)


def test_memory_grows_linearly_for_flash_and_quadratically_for_naive():
    """Peak tensor bytes at T = 256, 512, 1024: from one doubling of T to the next, flash's increase
    doubles (linear: O(T) on top of fixed tile buffers), naive's quadruples (the T x T scores)."""
    peaks = {}
    for T in (256, 512, 1024):
        q, k, v = (torch.randn(1, 2, T, 16) for _ in range(3))
        with torch.no_grad():
            peaks[T] = (
                peak_tensor_bytes(flash_attention, q, k, v, causal=True),
                peak_tensor_bytes(naive_attention, q, k, v, causal=True),
            )
    for which, growth in ((0, 2.0), (1, 4.0)):  # the step from 512 to 1024 vs the step from 256 to 512
        step = (peaks[1024][which] - peaks[512][which]) / (peaks[512][which] - peaks[256][which])
        assert step == pytest.approx(growth, rel=0.1), peaks
    assert peaks[1024][0] * 10 < peaks[1024][1]


def test_flash_backend_runs_a_whole_gpt():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=31, block_size=24, n_layer=2, n_head=4, n_embd=32)).double().eval()
    ids = torch.randint(0, 31, (2, 24))
    torch.testing.assert_close(
        model(ids, kv_cache=FlashAttention(block_q=8, block_k=8)), model(ids), atol=1e-10, rtol=0
    )


@pytest.mark.parametrize(
    ("shapes", "name"),
    [(((1, 4, 5, 8), (1, 3, 5, 8)), "k:"), (((1, 4, 5), (1, 4, 5)), "q, k, v")],
)
def test_shapes_that_cannot_work_are_refused(shapes, name):
    q_shape, k_shape = shapes
    with pytest.raises(ValueError, match=name):
        flash_attention(torch.randn(q_shape), torch.randn(k_shape), torch.randn(k_shape))


TRITON_CHECK = """
import torch
from groundup.models.flash_attention import naive_attention
from groundup.models.flash_attention_triton import flash_attention_triton

g = torch.Generator().manual_seed(5)
q = torch.randn(2, 4, 37, 16, generator=g)
k, v = torch.randn(2, 2, 2, 37, 16, generator=g)
pad = torch.arange(37)[None, :] < torch.tensor([[37], [30]])
out, lse = flash_attention_triton(q, k, v, causal=True, key_padding_mask=pad, block_m=16, block_n=16)
ref = naive_attention(q, k, v, causal=True, key_padding_mask=pad)
scores = (q @ k.repeat_interleave(2, 1).transpose(-1, -2)) / 4.0
scores = scores.masked_fill(~torch.ones(37, 37, dtype=torch.bool).tril(), float("-inf"))
scores = scores.masked_fill(~pad[:, None, None, :], float("-inf"))
print((out - ref).abs().max().item(), (lse - torch.logsumexp(scores, -1)).abs().max().item())
"""


def test_triton_kernel_under_the_interpreter():
    """The Triton kernel, run by Triton's CPU interpreter in a fresh process (TRITON_INTERPRET must be
    set before triton is imported): equals naive attention with GQA, causal and padding masks in
    float32, and its log-sum-exp equals the rows' logsumexp."""
    pytest.importorskip("triton")
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run(
        [sys.executable, "-c", TRITON_CHECK], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out_error, lse_error = map(float, done.stdout.split()[-2:])
    assert out_error < 1e-5 and lse_error < 1e-5
