"""Train only the last layers: a frozen trunk whose hidden states are computed once per sequence.

When adapters (LoRA) sit only in the last k of n blocks, the first n − k blocks see frozen weights,
so the hidden state they produce for a given token sequence never changes during training. An
alignment run scores the same responses again and again (SFT epochs, the DPO pairs and their
reference, the reward model, PPO's policy, reference, value and reward passes over one rollout), so:

    h = trunk(ids)            blocks[:n−k] under no_grad, memoized per sequence   (B, T, C)
    logits = top(h)           blocks[n−k:] + norm + head, the only part with a graph

Every pass after the first costs k/n of the blocks. Causal attention makes a real token's hidden
state independent of the padding to its right, so one memo entry per unpadded sequence serves any
batch it is padded into.

The layout is Llama's (`embed`, `rope`, `blocks`, `norm`, `lm_head`; `groundup.models.llama`).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from groundup.models.layers import NoCache


class Trunk:
    """The frozen first `n_frozen` blocks of `model`, with a memo from token tuple to hidden states."""

    def __init__(self, model: nn.Module, n_frozen: int, pad_id: int = 0) -> None:
        if not 0 < n_frozen < len(model.blocks):
            raise ValueError(f"n_frozen must be between 1 and {len(model.blocks) - 1}, got {n_frozen}")
        self.embed, self.rope, self.blocks = model.embed, model.rope, model.blocks[:n_frozen]
        self.pad_id, self.memo = pad_id, {}

    @torch.no_grad()
    def _run(self, rows: list[tuple[int, ...]]) -> None:
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
        x = self.embed(ids)  # (B, T, C)
        rope = self.rope(torch.arange(width))
        for layer, block in enumerate(self.blocks):
            x = block(x, NoCache(), layer, rope)
        for i, r in enumerate(rows):
            self.memo[r] = x[i, : len(r)].clone()  # (T_i, C)

    def __call__(self, input_ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """input_ids (B, T) right-padded -> (B, T, C), zero at padding. Rows are cut at `lengths`
        (default: after the last token that is not `pad_id`)."""
        if lengths is None:
            real = input_ids != self.pad_id  # (B, T)
            lengths = torch.where(real.any(1), real.shape[1] - real.flip(1).int().argmax(1), 0)
        lengths = lengths.tolist()
        rows = [tuple(r[:n]) for r, n in zip(input_ids.tolist(), lengths)]
        missing = list(dict.fromkeys(r for r in rows if r not in self.memo))
        for start in range(0, len(missing), 16):
            self._run(missing[start : start + 16])
        out = torch.zeros(*input_ids.shape, self.embed.embedding_dim)
        for i, r in enumerate(rows):
            out[i, : len(r)] = self.memo[r]
        return out


class Top(nn.Module):
    """The last blocks, the final norm and the head of a model, over a shared `Trunk`.

    Called like a CausalLM on token ids (the trunk supplies the hidden states), so `token_logprobs`,
    `sft_loss` and `RewardModel` work on it unchanged. `copy=True` gives this Top its own copy of the
    blocks (a reward model next to the policy); otherwise they are the model's own modules, so LoRA
    applied here is also what the full model generates with.
    """

    def __init__(self, model: nn.Module, trunk: Trunk, copy_weights: bool = False) -> None:
        super().__init__()
        n = len(trunk.blocks)
        take = copy.deepcopy if copy_weights else (lambda m: m)
        self.trunk, self.offset = trunk, n
        self.blocks = nn.ModuleList(take(b) for b in model.blocks[n:])
        self.norm = take(model.norm)
        self.lm_head = nn.Linear(model.lm_head.in_features, model.lm_head.out_features, bias=False)
        self.lm_head.weight = model.lm_head.weight  # shared (tied to the embedding in SmolLM2), never trained

    def hidden(self, input_ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, C): the normalized last hidden state (what the head reads)."""
        x = self.trunk(input_ids, lengths)
        rope = self.trunk.rope(torch.arange(input_ids.shape[1]))
        for i, block in enumerate(self.blocks):
            x = block(x, NoCache(), self.offset + i, rope)
        return self.norm(x)

    def forward(self, input_ids: torch.Tensor, logits_index=None, lengths=None) -> torch.Tensor:
        h = self.hidden(input_ids, lengths)
        if logits_index is not None:
            h = h[..., logits_index, :]
        return self.lm_head(h)  # (B, T', V)
