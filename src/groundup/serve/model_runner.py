"""One forward over many sequences: pack their spans, build the paged-attention indices, run the model
once, return the logits rows each span wants.

The model is any `groundup.models.layers.CausalLM` (Llama, a GPT trained here): it receives the flat
list of new tokens of all spans (no padding, no batch axis), their absolute positions, the KV pool as
its `kv_cache` (every attention layer calls `kv_cache.attend`) and the rows whose logits are wanted,
so the LM head runs only on the rows that are sampled. The runner reads nothing but the spans it is
given: which tokens, at which positions, through which block table.
"""

from __future__ import annotations

import torch

from groundup.models.layers import CausalLM
from groundup.serve.paged_attention import PagedKVCache, StepMetadata
from groundup.serve.sequence import Span


class ModelRunner:
    """Owns the KV pool and turns spans into per-span logits."""

    def __init__(self, model: CausalLM, num_blocks: int, block_size: int, dtype=torch.float32):
        self.model = model
        self.block_size = block_size
        spec = model.cache_spec
        self.cache = PagedKVCache(
            spec.n_layers, num_blocks, block_size, spec.n_kv_heads, spec.head_dim, dtype=dtype
        )

    def copy_blocks(self, pairs: list[tuple[int, int]]) -> None:
        """Copy-on-write: the scheduler's `(src, dst)` block pairs, before anything writes into them."""
        if pairs:
            self.cache.copy_blocks(pairs)

    @torch.inference_mode()
    def run(self, spans: list[Span], num_layers: int | None = None) -> list[torch.Tensor | None]:
        """Logits `(num_logits, vocab)` for each span, None where it wants none. `num_layers` runs only
        the model's first layers (the layer-skip self-draft)."""
        ids, positions, wanted, offset = [], [], [], 0
        for span in spans:
            n = len(span.token_ids)
            ids += span.token_ids
            positions += range(span.start, span.start + n)
            wanted.append(range(offset + n - span.num_logits, offset + n))
            offset += n
        tables, starts = [s.block_table for s in spans], [s.start for s in spans]
        self.cache.meta = StepMetadata.build(
            tables, starts, [len(s.token_ids) for s in spans], self.block_size
        )
        index = torch.tensor([i for r in wanted for i in r], dtype=torch.long)
        logits = self.model(
            torch.tensor(ids, dtype=torch.long),  # (T,) the spans' tokens, packed
            torch.tensor(positions, dtype=torch.long),  # (T,) absolute position of each in its sequence
            self.cache,
            logits_index=index,  # (R,) rows of T whose logits are returned
            num_layers=num_layers,
        )  # (R, V)
        out, row = [], 0
        for r in wanted:
            out.append(logits[row : row + len(r)].float() if len(r) else None)
            row += len(r)
        return out
