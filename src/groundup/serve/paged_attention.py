"""Paged attention in plain PyTorch: write new K/V into their slots, gather each sequence's context
by its block table, attend with one batched SDPA call per layer.

One step packs the new tokens of every scheduled sequence into a flat list of `T` tokens (sequences
of different lengths, no padding in the model's linear layers). Attention is the only per-sequence
operation: for it the queries are scattered into a padded `(B, Lq)` grid, keys/values gathered into
`(B, Lk)` from the block pool, and a mask keeps query `i` of sequence `b` to keys at positions
`<= position_i` of that same sequence. The gather indices and the mask are built once per step
(`StepMetadata`) and reused by every layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class StepMetadata:
    """Per-step indices shared by all layers (B sequences, T new tokens in total)."""

    slot_mapping: torch.Tensor  # (T,) pool slot each new token's K/V is written to
    gather_slots: torch.Tensor  # (B, Lk) pool slots of every context position (padding: slot 0)
    query_index: torch.Tensor  # (T,) where each flat token sits in the padded (B*Lq) query grid
    mask: torch.Tensor  # (B, 1, Lq, Lk) True where a query may attend to a key
    num_queries: int  # Lq

    @classmethod
    def build(
        cls, block_tables: list[list[int]], starts: list[int], lengths: list[int], block_size: int
    ) -> StepMetadata:
        """`starts[b]`: tokens of sequence b already cached; `lengths[b]`: new tokens this step."""
        num_queries = max(lengths)
        num_keys = max(s + n for s, n in zip(starts, lengths))
        gather = torch.zeros(len(starts), num_keys, dtype=torch.long)
        mask = torch.zeros(len(starts), 1, num_queries, num_keys, dtype=torch.bool)
        slots, query_index = [], []
        for b, (table, start, n) in enumerate(zip(block_tables, starts, lengths)):
            ctx = start + n
            pos = torch.arange(ctx)
            table_t = torch.tensor(table, dtype=torch.long)
            seq_slots = table_t[pos // block_size] * block_size + pos % block_size  # (ctx,)
            gather[b, :ctx] = seq_slots
            slots.append(seq_slots[start:])
            query_index.append(b * num_queries + torch.arange(n))
            q_pos = torch.arange(start, ctx)  # (n,) absolute positions of the queries
            mask[b, 0, :n, :ctx] = pos[None, :] <= q_pos[:, None]  # causal within the sequence
            mask[b, 0, n:, 0] = True  # padded query rows see one key (never read): no NaN rows
        return cls(torch.cat(slots), gather, torch.cat(query_index), mask, num_queries)


class PagedKVCache:
    """The KV pool: per layer a `(num_blocks * block_size, n_kv_heads, head_dim)` tensor for K and V."""

    def __init__(
        self,
        n_layers: int,
        num_blocks: int,
        block_size: int,
        n_kv_heads: int,
        head_dim: int,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ):
        shape = (num_blocks * block_size, n_kv_heads, head_dim)
        self.k = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.v = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.block_size = block_size
        self.meta: StepMetadata | None = None

    @property
    def length(self) -> int:
        """Not one number: the pool holds many sequences of different lengths (the KVCache protocol's
        answer for such caches is explicit positions, which the model runner always passes)."""
        raise ValueError(
            "positions: the paged KV pool holds many sequences of different lengths, so it has no single "
            "length; pass explicit positions (the serving engine's model runner does)"
        )

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.k + self.v)

    def copy_blocks(self, pairs: list[tuple[int, int]]) -> None:
        """Copy-on-write: duplicate whole blocks `src -> dst` in every layer."""
        bs = self.block_size
        for src, dst in pairs:
            for pool in self.k + self.v:
                pool[dst * bs : (dst + 1) * bs] = pool[src * bs : (src + 1) * bs]

    def attend(
        self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float | None = None
    ) -> torch.Tensor:
        """q (T, H, D), k/v (T, Hkv, D) for the step's new tokens (RoPE applied) -> (T, H, D)."""
        meta = self.meta
        assert meta is not None, "set cache.meta = StepMetadata.build(...) before the forward"
        self.k[layer][meta.slot_mapping] = k.to(self.k[layer].dtype)
        self.v[layer][meta.slot_mapping] = v.to(self.v[layer].dtype)
        keys = self.k[layer][meta.gather_slots]  # (B, Lk, Hkv, D)
        values = self.v[layer][meta.gather_slots]
        B, _, n_kv, D = keys.shape
        H = q.shape[1]
        queries = q.new_zeros(B * meta.num_queries, H, D)
        queries[meta.query_index] = q
        queries = queries.view(B, meta.num_queries, H, D).transpose(1, 2)  # (B, H, Lq, D)
        keys = keys.to(q.dtype).transpose(1, 2).repeat_interleave(H // n_kv, dim=1)  # (B, H, Lk, D)
        values = values.to(q.dtype).transpose(1, 2).repeat_interleave(H // n_kv, dim=1)
        out = F.scaled_dot_product_attention(queries, keys, values, attn_mask=meta.mask, scale=scale)
        return out.transpose(1, 2).reshape(B * meta.num_queries, H, D)[meta.query_index]  # (T, H, D)
