"""Paged KV memory: fixed-size blocks, reference counts, prefix caching and copy-on-write.

The KV pool (owned by the model runner) is `num_blocks` blocks of `block_size` token slots per layer.
A sequence's `block_table` lists its blocks in order, so token position `p` lives in slot
`block_table[p // block_size] * block_size + p % block_size` (vLLM's PagedAttention, Kwon et al. 2023).

Prefix caching: a *full* block is identified by a chained hash `h_i = H(h_{i-1}, tokens of block i)`,
so equal hashes mean equal whole prefixes, not just equal blocks. A new request first looks its full
prompt blocks up by hash and shares them (ref count + 1) instead of recomputing them. Blocks whose
ref count falls to 0 keep their contents and hash on an LRU free list: they can still be hit until
they are handed out again for other tokens (which drops the hash). This is what lets a preempted
request get its prefix back for free, and why a hit also compares the stored token ids.

Copy-on-write: `fork` makes a child share all of a parent's blocks (n > 1 completions). Before a
step writes into a block that another sequence also holds, `allocate_slots` gives the writer a fresh
copy and returns `(src, dst)` pairs the runner copies in the pool.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field

from groundup.serve.sequence import Sequence


def block_hash(parent: bytes | None, token_ids: list[int]) -> bytes:
    """Chained hash of one full block: depends on every token before it through `parent`."""
    h = hashlib.blake2b(parent or b"root", digest_size=16)
    h.update(b"".join(t.to_bytes(4, "little") for t in token_ids))
    return h.digest()


@dataclass
class Block:
    block_id: int
    ref_count: int = 0
    hash: bytes | None = None
    token_ids: list[int] = field(default_factory=list)  # only kept for full, hashed blocks


@dataclass
class BlockStats:
    num_blocks: int
    used_blocks: int
    free_blocks: int
    cached_free_blocks: int  # free but still holding a hashed prefix
    prefix_queries: int
    prefix_hits: int  # blocks served from the prefix cache
    cow_copies: int


class BlockManager:
    """Hands out KV blocks to sequences; knows nothing about tensors (the runner does the copies)."""

    def __init__(self, num_blocks: int, block_size: int = 16, enable_prefix_caching: bool = True):
        if num_blocks < 1 or block_size < 1:
            raise ValueError(f"num_blocks and block_size must be >= 1, got {num_blocks}, {block_size}")
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.enable_prefix_caching = enable_prefix_caching
        self.blocks = [Block(i) for i in range(num_blocks)]
        self.free: OrderedDict[int, None] = OrderedDict((i, None) for i in range(num_blocks))  # LRU first
        self.hash_to_block: dict[bytes, int] = {}
        self.seq_hashes: dict[int, list[bytes]] = {}  # seq_id -> hashes of its full, computed blocks
        self.prefix_queries = 0
        self.prefix_hits = 0
        self.cow_copies = 0

    # -- sizes ---------------------------------------------------------------------------------
    def blocks_for(self, num_tokens: int) -> int:
        return -(-num_tokens // self.block_size)

    @property
    def num_free(self) -> int:
        return len(self.free)

    # -- prefix cache ----------------------------------------------------------------------------
    def match_prefix(self, seq: Sequence) -> int:
        """Give a sequence with no blocks yet its longest cached prefix; returns the tokens covered.

        At least one token is always left to compute, since the step needs its logits.
        """
        assert not seq.block_table, "match_prefix is for sequences without blocks"
        seq.num_computed_tokens = 0
        self.seq_hashes[seq.seq_id] = []
        if not self.enable_prefix_caching:
            return 0
        ids = seq.all_ids
        parent = None
        for i in range((len(ids) - 1) // self.block_size):
            chunk = ids[i * self.block_size : (i + 1) * self.block_size]
            h = block_hash(parent, chunk)
            self.prefix_queries += 1
            block_id = self.hash_to_block.get(h)
            if block_id is None or self.blocks[block_id].token_ids != chunk:
                break
            self._take(block_id)
            self.prefix_hits += 1
            seq.block_table.append(block_id)
            self.seq_hashes[seq.seq_id].append(h)
            parent = h
        seq.num_computed_tokens = seq.num_cached_tokens = len(seq.block_table) * self.block_size
        return seq.num_computed_tokens

    def commit(self, seq: Sequence) -> None:
        """Register the hashes of blocks that became full (and computed) during the last step."""
        if not self.enable_prefix_caching:
            return
        hashes = self.seq_hashes.setdefault(seq.seq_id, [])
        ids = seq.all_ids
        for i in range(len(hashes), seq.num_computed_tokens // self.block_size):
            chunk = ids[i * self.block_size : (i + 1) * self.block_size]
            h = block_hash(hashes[-1] if hashes else None, chunk)
            hashes.append(h)
            block = self.blocks[seq.block_table[i]]
            if block.hash is None and block.ref_count == 1:  # a shared block may still be written
                block.hash, block.token_ids = h, chunk
                self.hash_to_block[h] = block.block_id

    # -- allocation --------------------------------------------------------------------------------
    def _take(self, block_id: int) -> None:
        block = self.blocks[block_id]
        if block.ref_count == 0:
            del self.free[block_id]
        block.ref_count += 1

    def _new_block(self) -> int:
        block_id, _ = self.free.popitem(last=False)  # least recently freed first
        block = self.blocks[block_id]
        if block.hash is not None:  # its old prefix is about to be overwritten
            if self.hash_to_block.get(block.hash) == block_id:
                del self.hash_to_block[block.hash]
            block.hash, block.token_ids = None, []
        block.ref_count = 1
        return block_id

    def allocate_slots(self, seq: Sequence, num_new_tokens: int) -> list[tuple[int, int]] | None:
        """Make room for `num_new_tokens` more computed tokens; None (and no change) if blocks run out.

        Returns the copy-on-write pairs `(src_block, dst_block)` the runner must copy before writing.
        """
        start = seq.num_computed_tokens
        need_total = self.blocks_for(start + num_new_tokens)
        extra = max(0, need_total - len(seq.block_table))
        first = start // self.block_size  # the first block this step writes into
        shared = [
            i
            for i in range(first, min(need_total, len(seq.block_table)))
            if self.blocks[seq.block_table[i]].ref_count > 1
        ]
        if extra + len(shared) > self.num_free:
            return None
        copies = []
        for i in shared:
            src = seq.block_table[i]
            dst = self._new_block()
            self.blocks[src].ref_count -= 1  # still > 0: someone else holds it
            seq.block_table[i] = dst
            copies.append((src, dst))
            self.cow_copies += 1
        seq.block_table.extend(self._new_block() for _ in range(extra))
        return copies

    def fork(self, parent: Sequence, child: Sequence) -> None:
        """Right after the parent's prefill: the child (the same prompt, no output yet) shares the
        blocks that hold the prompt's KV; writes will copy on demand."""
        assert not child.block_table and child.prompt_ids == parent.prompt_ids and not child.output_ids
        child.block_table = parent.block_table[: self.blocks_for(len(child))]
        for block_id in child.block_table:
            self._take(block_id)
        child.num_computed_tokens = len(child)
        self.seq_hashes[child.seq_id] = list(self.seq_hashes.get(parent.seq_id, []))

    def free_seq(self, seq: Sequence) -> None:
        """Release a sequence's blocks (finish, abort or preemption); hashed blocks stay hit-able."""
        for block_id in reversed(seq.block_table):  # tail first: the prefix head is evicted last
            block = self.blocks[block_id]
            block.ref_count -= 1
            assert block.ref_count >= 0, f"block {block_id} freed twice"
            if block.ref_count == 0:
                self.free[block_id] = None
        seq.block_table = []
        seq.num_computed_tokens = 0
        self.seq_hashes.pop(seq.seq_id, None)

    def trim(self, seq: Sequence) -> None:
        """Return blocks beyond what the computed tokens need (after rejected speculative tokens)."""
        keep = self.blocks_for(max(seq.num_computed_tokens, 1))
        while len(seq.block_table) > keep:
            block_id = seq.block_table.pop()
            block = self.blocks[block_id]
            block.ref_count -= 1
            if block.ref_count == 0:
                self.free[block_id] = None

    # -- stats ---------------------------------------------------------------------------------------
    def stats(self) -> BlockStats:
        return BlockStats(
            num_blocks=self.num_blocks,
            used_blocks=self.num_blocks - self.num_free,
            free_blocks=self.num_free,
            cached_free_blocks=sum(1 for b in self.free if self.blocks[b].hash is not None),
            prefix_queries=self.prefix_queries,
            prefix_hits=self.prefix_hits,
            cow_copies=self.cow_copies,
        )
