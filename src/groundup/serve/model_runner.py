"""One engine step on the model: pack the scheduled tokens, build the paged-attention indices, run a
single forward, return the logits rows each sequence needs.

The model is anything with the `PagedModel` interface, which `groundup.models.llama.Llama` has: it
receives the flat list of new tokens of all sequences (no padding, no batch axis), their absolute
positions, the KV pool as its `kv_cache` (every attention layer calls `kv_cache.attend`, see
`groundup.models.layers`) and the rows whose logits are wanted, so the LM head runs only on the rows
that are sampled.
"""

from __future__ import annotations

from typing import Protocol

import torch

from groundup.serve.paged_attention import PagedKVCache, StepMetadata
from groundup.serve.scheduler import ScheduledBatch


class PagedModel(Protocol):
    n_layers: int
    n_kv_heads: int
    head_dim: int
    vocab_size: int
    max_context: int

    def __call__(
        self,
        input_ids: torch.Tensor,  # (T,) new tokens of every sequence, packed
        positions: torch.Tensor,  # (T,) absolute position of each token in its sequence
        kv_cache: PagedKVCache,
        logits_index: torch.Tensor,  # (R,) rows of T whose logits are returned
        num_layers: int | None = None,  # run only the first layers (layer-skip self-draft)
    ) -> torch.Tensor: ...  # (R, vocab)


class ModelRunner:
    """Owns the KV pool and turns a ScheduledBatch into per-sequence logits."""

    def __init__(self, model: PagedModel, num_blocks: int, block_size: int, dtype=torch.float32):
        self.model = model
        self.block_size = block_size
        spec = model.cache_spec
        self.cache = PagedKVCache(
            spec.n_layers, num_blocks, block_size, spec.n_kv_heads, spec.head_dim, dtype=dtype
        )

    @torch.inference_mode()
    def run(self, batch: ScheduledBatch, num_layers: int | None = None) -> list[torch.Tensor | None]:
        """Logits `(1 + drafts, vocab)` for each sequence whose step reaches its last token; None for a
        sequence in the middle of a chunked prefill (nothing to sample yet)."""
        if batch.copies:
            self.cache.copy_blocks(batch.copies)
        ids, positions, starts, wanted, offset = [], [], [], [], 0
        for seq, n in zip(batch.seqs, batch.num_tokens):
            start = seq.num_computed_tokens
            tokens = (seq.all_ids + seq.draft_ids)[start : start + n]
            ids += tokens
            positions += range(start, start + n)
            starts.append(start)
            first = max(0, len(seq) - 1 - start)  # row of the last real token (drafts follow it)
            wanted.append(range(offset + first, offset + n) if first < n else range(0))
            offset += n
        self.cache.meta = StepMetadata.build(
            [s.block_table for s in batch.seqs], starts, batch.num_tokens, self.block_size
        )
        index = torch.tensor([i for r in wanted for i in r], dtype=torch.long)
        logits = self.model(
            torch.tensor(ids, dtype=torch.long),
            torch.tensor(positions, dtype=torch.long),
            self.cache,
            logits_index=index,
            num_layers=num_layers,
        )  # (R, V)
        out, row = [], 0
        for r in wanted:
            out.append(logits[row : row + len(r)].float() if len(r) else None)
            row += len(r)
        return out
