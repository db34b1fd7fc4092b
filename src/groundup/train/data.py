"""Token data for language-model training: a train/val split and random blocks of the token stream.

The tokens usually come from a `groundup.tokenizers.char.CharTokenizer` over the corpus's characters.

Batches are drawn from a dedicated `torch.Generator` whose state goes into checkpoints, so a resumed
run draws exactly the batches the uninterrupted run would have. Under data parallelism every rank
draws the same global batch of `world * batch_size` offsets and keeps its own slice: two ranks with
batch b see precisely the examples one process with batch 2b sees.
"""

from __future__ import annotations

import torch

from groundup.errors import GroundupError


def split_tokens(
    tokens: torch.Tensor, val_fraction: float, block_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """First (1 - val_fraction) of the tokens for training, the rest for validation (nanoGPT's split).

    Each part must hold at least one block plus its next-token target.
    """
    n_train = int(len(tokens) * (1 - val_fraction))
    train, val = tokens[:n_train], tokens[n_train:]
    for name, part in (("training", train), ("validation", val)):
        if len(part) < block_size + 1:
            raise GroundupError(
                f"the {name} split has {len(part)} tokens, fewer than one block of {block_size} + 1: "
                f"use a longer text or a smaller --block-size (the corpus has {len(tokens)} tokens)"
            )
    return train, val


class Batcher:
    """Random (x, y) blocks of one split: y is x shifted by one token."""

    def __init__(
        self, tokens: torch.Tensor, block_size: int, batch_size: int, *, rank: int = 0, world: int = 1
    ):
        if len(tokens) < block_size + 1:
            raise GroundupError(
                f"dataset has {len(tokens)} tokens, fewer than one block of {block_size} + 1; "
                "use a longer text or a smaller block size"
            )
        self.tokens, self.block_size, self.batch_size = tokens, block_size, batch_size
        self.rank, self.world = rank, world

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        T = self.block_size
        starts = torch.randint(len(self.tokens) - T, (self.world * self.batch_size,), generator=generator)
        mine = starts[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]  # (B,)
        offsets = mine[:, None] + torch.arange(T)  # (B, T)
        return self.tokens[offsets], self.tokens[offsets + 1]
