"""Scheduler policy without a model: continuous admission, token budget with chunked prefill,
preemption of the newest request and its resumption ahead of later arrivals."""

from __future__ import annotations

import pytest

from groundup.generate import SamplingParams
from groundup.serve.block_manager import BlockManager
from groundup.serve.scheduler import Scheduler, SchedulerConfig
from groundup.serve.sequence import Sequence

pytestmark = pytest.mark.module("2.2")


def make(n_prompt, max_tokens=50, first=0):
    return Sequence(list(range(first, first + n_prompt)), SamplingParams(max_tokens=max_tokens))


def advance(batch, token=1):
    """What the engine does after a step: mark tokens computed, sample when a prompt is done."""
    for seq, n in zip(batch.seqs, batch.num_tokens):
        seq.num_computed_tokens += n
        if seq.num_computed_tokens == len(seq):
            seq.output_ids.append(token)


def test_new_requests_join_between_decode_steps():
    s = Scheduler(SchedulerConfig(max_running=4, max_tokens_per_step=64), BlockManager(64, 4))
    a = make(5)
    s.add(a)
    advance(s.schedule())
    advance(s.schedule())  # a is decoding
    b = make(7, first=100)
    s.add(b)
    batch = s.schedule()
    assert batch.seqs == [a, b] and batch.num_tokens == [1, 7]  # b's prefill rides along a's decode


def test_long_prompt_is_chunked_and_does_not_stall_decodes():
    s = Scheduler(SchedulerConfig(max_running=4, max_tokens_per_step=8), BlockManager(64, 4))
    a = make(3)
    s.add(a)
    advance(s.schedule())
    s.add(make(30, first=100))
    chunks = []
    for _ in range(5):
        batch = s.schedule()
        assert batch.total_tokens <= 8
        assert batch.seqs[0] is a and batch.num_tokens[0] == 1  # a decodes every step
        chunks.append(batch.num_tokens[1])
        advance(batch)
    assert chunks == [7, 7, 7, 7, 2]  # 30 prompt tokens in budget-sized chunks


def test_preempts_newest_and_resumes_it_before_later_arrivals():
    bm = BlockManager(6, 4)
    s = Scheduler(SchedulerConfig(max_running=4, max_tokens_per_step=64), bm)
    old, new = make(8, max_tokens=12), make(8, max_tokens=12, first=100)
    s.add(old)
    s.add(new)
    advance(s.schedule())  # 2 + 2 blocks (+1 for each first output token later)
    late = make(3, max_tokens=4, first=200)
    s.add(late)
    preempted = []
    for _ in range(8):
        batch = s.schedule()
        preempted += batch.preempted
        advance(batch)
        if preempted:
            break
    assert preempted == [new] and new.num_computed_tokens == 0 and new.num_preemptions == 1
    assert list(s.waiting)[:2] == [new, late]  # the preempted request goes back first
    for seq in s.running + list(s.waiting):
        s.finish(seq)
    assert bm.num_free == 6
