"""Block manager: ref counts, chained prefix hashes, copy-on-write, LRU reuse and no leaks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.generate import SamplingParams
from groundup.serve.block_manager import BlockManager, block_hash
from groundup.serve.limits import OutOfBlocks, RequestLimits
from groundup.serve.sequence import Sequence

pytestmark = pytest.mark.module("2.2")


def seq(ids, max_tokens=8):
    return Sequence(prompt_ids=list(ids), params=SamplingParams(max_tokens=max_tokens))


def admit(bm, s):
    bm.match_prefix(s)
    assert bm.allocate_slots(s, s.num_uncomputed) == []
    s.num_computed_tokens = len(s)
    bm.commit(s)


def test_chained_hash_depends_on_the_whole_prefix():
    a = block_hash(block_hash(None, [1, 2]), [3, 4])
    b = block_hash(block_hash(None, [9, 2]), [3, 4])
    assert a != b and a == block_hash(block_hash(None, [1, 2]), [3, 4])


def test_shared_prefix_is_computed_once_and_refcounted():
    bm = BlockManager(num_blocks=16, block_size=4)
    system = list(range(100, 112))  # three full blocks
    a, b = seq(system + [1, 2]), seq(system + [7])
    admit(bm, a)
    assert bm.stats().used_blocks == 4
    assert bm.match_prefix(b) == 12  # all three system blocks come from the cache
    assert b.block_table == a.block_table[:3]
    assert [bm.blocks[i].ref_count for i in a.block_table] == [2, 2, 2, 1]
    bm.allocate_slots(b, b.num_uncomputed)
    assert bm.stats().used_blocks == 5 and bm.stats().prefix_hits == 3
    bm.free_seq(a)
    bm.free_seq(b)
    assert bm.stats().used_blocks == 0
    assert all(blk.ref_count == 0 for blk in bm.blocks)


def test_fully_cached_prompt_still_leaves_one_token_to_compute():
    bm = BlockManager(num_blocks=8, block_size=4)
    a = seq(range(8))
    admit(bm, a)
    b = seq(range(8))
    assert bm.match_prefix(b) == 4  # not 8: the last token's logits are needed
    bm.free_seq(b)


def test_freed_blocks_stay_hittable_until_reused():
    bm = BlockManager(num_blocks=4, block_size=4)
    a = seq(range(9))
    admit(bm, a)
    bm.free_seq(a)
    assert bm.stats().cached_free_blocks == 2
    b = seq(range(9))
    assert bm.match_prefix(b) == 8  # preempted/finished work comes back for free
    bm.free_seq(b)
    c = seq(range(50, 66))  # needs all 4 blocks: evicts the cached ones, which drops their hashes
    admit(bm, c)
    bm.free_seq(c)
    d = seq(range(9))
    assert bm.match_prefix(d) == 0
    bm.free_seq(d)


def test_copy_on_write_after_fork():
    bm = BlockManager(num_blocks=8, block_size=4)
    parent = seq(range(6))  # one full block + a partial one
    admit(bm, parent)
    child = seq(range(6))
    bm.fork(parent, child)
    assert [bm.blocks[i].ref_count for i in parent.block_table] == [2, 2]
    copies = bm.allocate_slots(child, 1)  # the child writes position 6, inside the shared block 1
    assert copies == [(parent.block_table[1], child.block_table[1])]
    assert child.block_table[0] == parent.block_table[0]  # the full block stays shared
    assert bm.allocate_slots(parent, 1) == []  # now the parent owns its block alone
    bm.free_seq(parent)
    bm.free_seq(child)
    assert bm.stats().used_blocks == 0 and bm.stats().cow_copies == 1


def test_allocation_failure_changes_nothing_and_oversized_requests_are_refused():
    bm = BlockManager(num_blocks=2, block_size=4)
    a = seq(range(12))
    bm.match_prefix(a)
    assert bm.allocate_slots(a, 12) is None
    assert a.block_table == [] and bm.num_free == 2
    with pytest.raises(OutOfBlocks, match="more KV blocks"):
        RequestLimits(max_context=64, vocab_size=16, num_blocks=2, block_size=4).check([0], 8)  # 9 tokens


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.integers(0, 3)), min_size=1, max_size=12))
def test_random_admit_free_never_leaks(specs):
    """Any mix of overlapping prompts, admitted and freed, returns every block with ref count 0."""
    bm = BlockManager(num_blocks=64, block_size=4)
    live = []
    for length, prefix in specs:
        s = seq([prefix] * 5 + list(range(length)))
        bm.match_prefix(s)
        if bm.allocate_slots(s, s.num_uncomputed) is None:
            bm.free_seq(s)
            continue
        s.num_computed_tokens = len(s)
        bm.commit(s)
        live.append(s)
        if len(live) > 3:
            bm.free_seq(live.pop(0))
    for s in live:
        bm.free_seq(s)
    assert bm.num_free == 64 and all(b.ref_count == 0 for b in bm.blocks)
