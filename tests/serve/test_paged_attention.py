"""Paged attention (gather by block table) equals attention over a contiguous causal cache."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from groundup.serve.paged_attention import PagedKVCache, StepMetadata

pytestmark = pytest.mark.module("2.2")


def contiguous_attention(q, k, v):
    """Reference: one sequence, all positions, causal SDPA with GQA heads repeated. (L, H, D)."""
    H, n_kv = q.shape[1], k.shape[1]
    k = k.repeat_interleave(H // n_kv, dim=1)
    v = v.repeat_interleave(H // n_kv, dim=1)
    out = F.scaled_dot_product_attention(
        q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), is_causal=True
    )
    return out.transpose(0, 1)


@pytest.mark.parametrize("seed", range(3))
def test_paged_equals_contiguous_over_chunked_steps(seed):
    """Three sequences of different lengths fed in chunks (prefill, chunked prefill, decodes) through
    scattered blocks give, token for token, the same outputs as full causal attention."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    H, n_kv, D, bs, n_blocks = 4, 2, 8, 4, 40
    lengths = [rng.randint(1, 30) for _ in range(3)]
    qs = [torch.randn(L, H, D, dtype=torch.float64) for L in lengths]
    ks = [torch.randn(L, n_kv, D, dtype=torch.float64) for L in lengths]
    vs = [torch.randn(L, n_kv, D, dtype=torch.float64) for L in lengths]
    cache = PagedKVCache(1, n_blocks, bs, n_kv, D, dtype=torch.float64)
    free = list(range(n_blocks))
    rng.shuffle(free)  # blocks are not contiguous in the pool
    tables = [[free.pop() for _ in range(-(-L // bs))] for L in lengths]
    done = [0, 0, 0]
    outs = [[] for _ in lengths]
    while any(d < L for d, L in zip(done, lengths)):
        active = [b for b in range(3) if done[b] < lengths[b]]
        steps = [min(rng.randint(1, 7), lengths[b] - done[b]) for b in active]
        cache.meta = StepMetadata.build([tables[b] for b in active], [done[b] for b in active], steps, bs)
        q = torch.cat([qs[b][done[b] : done[b] + n] for b, n in zip(active, steps)])
        k = torch.cat([ks[b][done[b] : done[b] + n] for b, n in zip(active, steps)])
        v = torch.cat([vs[b][done[b] : done[b] + n] for b, n in zip(active, steps)])
        out = cache.attend(0, q, k, v)
        for (b, n), chunk in zip(zip(active, steps), out.split(steps)):
            outs[b].append(chunk)
            done[b] += n
    for b in range(3):
        ref = contiguous_attention(qs[b], ks[b], vs[b])
        torch.testing.assert_close(torch.cat(outs[b]), ref, rtol=0, atol=1e-12)


def test_copy_blocks_duplicates_every_layer():
    cache = PagedKVCache(2, 4, 2, 1, 3)
    for pool in cache.k + cache.v:
        pool[2:4] = torch.randn(2, 1, 3)
    cache.copy_blocks([(1, 3)])
    for pool in cache.k + cache.v:
        assert torch.equal(pool[6:8], pool[2:4])
