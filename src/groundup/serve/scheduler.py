"""Continuous batching: which sequences run this step, and how many tokens each computes.

Every step has a token budget. Running sequences go first, oldest first (a decode costs 1 token, plus
its speculative draft tokens; a prompt still being prefilled takes what is left of the budget, so a
long prompt is *chunked* across steps instead of stalling everyone's decode). Then waiting requests
are admitted in arrival order while budget, `max_running` and KV blocks allow: new requests join
between decode steps, not after the whole batch ends (Yu et al. 2022, "Orca").

When a running sequence cannot get a block, the *newest* running sequence is preempted by recompute:
its blocks are freed and it goes back to the front of the queue, so it resumes before anything that
arrived after it (fair resumption). Its computed prefix usually comes back from the prefix cache.
With `continuous=False` the scheduler batches statically (new requests wait until the whole running
batch is done), the baseline in `groundup bench serve`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from groundup.serve.block_manager import BlockManager
from groundup.serve.config import SchedulerConfig
from groundup.serve.sequence import Sequence, Status


@dataclass
class ScheduledBatch:
    """One step's work: each sequence with the number of tokens it computes, in batch order."""

    seqs: list[Sequence] = field(default_factory=list)
    num_tokens: list[int] = field(default_factory=list)
    copies: list[tuple[int, int]] = field(default_factory=list)  # copy-on-write block pairs
    preempted: list[Sequence] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.seqs)

    @property
    def total_tokens(self) -> int:
        return sum(self.num_tokens)


class Scheduler:
    def __init__(self, config: SchedulerConfig, block_manager: BlockManager):
        self.config = config
        self.bm = block_manager
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []

    def add(self, seq: Sequence) -> None:
        """Queue a request (checked against the pool by `RequestLimits` when it was made)."""
        need = self.bm.blocks_for(len(seq.prompt_ids) + seq.max_tokens)
        assert need <= self.bm.num_blocks, f"a sequence needing {need} blocks can never run"
        seq.status = Status.WAITING
        self.waiting.append(seq)

    def add_forked(self, seq: Sequence) -> None:
        """A fork that holds its parent's prompt KV already: it decodes from the next step on."""
        seq.status = Status.RUNNING
        self.running.append(seq)

    def has_work(self) -> bool:
        return bool(self.waiting or self.running)

    def schedule(self) -> ScheduledBatch:
        batch = ScheduledBatch()
        budget = self.config.max_tokens_per_step
        i = 0
        while i < len(self.running) and budget > 0:
            seq = self.running[i]
            n = min(seq.num_uncomputed + len(seq.draft_ids), budget)
            copies = self.bm.allocate_slots(seq, n)
            while copies is None:  # out of blocks: preempt the newest running sequence
                victim = self.running.pop()
                self._preempt(victim)
                batch.preempted.append(victim)
                if victim is seq:
                    break
                copies = self.bm.allocate_slots(seq, n)
            if copies is None:
                break
            self._add(batch, seq, n, copies)
            budget -= n
            i += 1
        admit = self.config.continuous or not self.running
        while admit and self.waiting and budget > 0 and not batch.preempted:
            if len(self.running) >= self.config.max_running:
                break
            seq = self.waiting[0]
            self.bm.match_prefix(seq)
            n = min(seq.num_uncomputed, budget)
            copies = self.bm.allocate_slots(seq, n)
            if copies is None:  # wait for blocks; arrival order is kept (no overtaking)
                self.bm.free_seq(seq)
                break
            self.waiting.popleft()
            seq.status = Status.RUNNING
            seq.draft_ids = []
            self.running.append(seq)
            self._add(batch, seq, n, copies)
            budget -= n
        return batch

    def _add(self, batch: ScheduledBatch, seq: Sequence, n: int, copies: list[tuple[int, int]]) -> None:
        del seq.draft_ids[max(0, n - seq.num_uncomputed) :]  # drafts that did not fit the budget
        batch.seqs.append(seq)
        batch.num_tokens.append(n)
        batch.copies.extend(copies)

    def _preempt(self, seq: Sequence) -> None:
        self.bm.free_seq(seq)
        seq.status = Status.WAITING
        seq.draft_ids = []
        seq.num_preemptions += 1
        self.waiting.appendleft(seq)

    def finish(self, seq: Sequence) -> None:
        """Drop a finished or aborted sequence, wherever it is, and free its blocks."""
        if seq in self.running:
            self.running.remove(seq)
        elif seq in self.waiting:
            self.waiting.remove(seq)
        self.bm.free_seq(seq)
