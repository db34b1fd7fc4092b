"""Datasets that load lazily and the `DataLoader` settings that feed a training loop (0.8).

A map-style `Dataset` answers `len(ds)` and `ds[i]`; a `DataLoader` draws indices (shuffled by a
seeded generator), fetches items, and collates them into batches. With `num_workers` > 0 the items
are fetched by worker processes while the main process trains, `prefetch_factor` batches ahead per
worker; `pin_memory` copies batches into page-locked memory so a GPU can receive them asynchronously
(it does nothing without an accelerator). Workers only pay off when fetching an item costs real work
(decoding, tokenizing, augmenting): `benchmarks/bench_loader.py` measures items/s against num_workers.

Lazy loading: `TokenFileDataset` reads a flat binary file of token ids (nanoGPT's `train.bin` format,
uint16) through `np.memmap`, so a corpus larger than memory costs nothing until a block is read, and
the map is opened in each worker after the fork instead of being pickled into it. `TextLineDataset`
keeps raw lines and tokenizes an item only when it is asked for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from groundup.errors import GroundupError

TOKEN_DTYPE = np.uint16  # vocabularies up to 65,535 ids, as nanoGPT's prepare scripts


def write_tokens(path: str | os.PathLike, ids: Sequence[int]) -> Path:
    """Write token ids as a flat little-endian uint16 file (the format `TokenFileDataset` maps)."""
    array = np.asarray(ids, dtype=np.int64)
    if array.size and (array.min() < 0 or array.max() > np.iinfo(TOKEN_DTYPE).max):
        raise ValueError(
            f"ids: token ids must be in [0, 65535] for a uint16 file, got {array.min()}..{array.max()}"
        )
    path = Path(path)
    array.astype("<u2").tofile(path)
    return path


class TokenFileDataset(Dataset):
    """Blocks (x, y) of a memory-mapped token file: item i starts at token i * stride, y = x shifted by one."""

    def __init__(self, path: str | os.PathLike, block_size: int, stride: int | None = None):
        self.path, self.block_size = Path(path), block_size
        self.stride = stride or block_size
        if not self.path.is_file():
            raise GroundupError(
                f"token file {self.path} does not exist; write one with write_tokens(path, ids)"
            )
        n_tokens = self.path.stat().st_size // np.dtype(TOKEN_DTYPE).itemsize
        if n_tokens < block_size + 1:
            raise GroundupError(
                f"{self.path} holds {n_tokens} tokens, fewer than one block of {block_size} + 1"
            )
        self.n_tokens = n_tokens
        self._tokens = None  # opened on first access, in whichever process reads

    def __len__(self) -> int:
        return (self.n_tokens - self.block_size - 1) // self.stride + 1

    def tokens(self) -> np.memmap:
        if self._tokens is None:
            self._tokens = np.memmap(self.path, dtype=TOKEN_DTYPE, mode="r")
        return self._tokens

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= i < len(self):
            raise IndexError(f"block {i} out of range for {len(self)} blocks")
        start = i * self.stride
        chunk = torch.from_numpy(self.tokens()[start : start + self.block_size + 1].astype(np.int64))
        return chunk[:-1], chunk[1:]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_tokens": None}  # workers map the file themselves


class TextLineDataset(Dataset):
    """(token ids, label) per text line, tokenized when the item is read (lazily, in the worker)."""

    def __init__(
        self,
        texts: Sequence[str],
        labels: Sequence[int],
        encode: Callable[[str], list[int]],
        max_len: int = 128,
    ):
        if len(texts) != len(labels):
            raise ValueError(f"texts and labels differ in length: {len(texts)} vs {len(labels)}")
        self.texts, self.labels, self.encode, self.max_len = list(texts), list(labels), encode, max_len

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        ids = self.encode(self.texts[i])[: self.max_len]
        return torch.tensor(ids, dtype=torch.long), self.labels[i]


def pad_collate(items: list[tuple[torch.Tensor, int]], pad_id: int = 0):
    """[(ids (L_i,), label)] -> (ids (B, L) right-padded with pad_id, mask (B, L), labels (B,))."""
    length = max(max(len(ids) for ids, _ in items), 1)
    ids = torch.full((len(items), length), pad_id, dtype=torch.long)
    mask = torch.zeros(len(items), length, dtype=torch.bool)
    for row, (seq, _) in enumerate(items):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = True
    return ids, mask, torch.tensor([label for _, label in items])


def _seed_worker(worker_id: int) -> None:
    """Each worker's NumPy and Python RNGs derive from torch's per-worker seed (augmentations differ
    between workers but repeat across runs)."""
    import random

    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool = True,
    num_workers: int = 0,
    pin_memory: bool = False,
    prefetch_factor: int | None = None,
    collate_fn=None,
    seed: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """A DataLoader whose order depends only on `seed`, with workers kept alive across epochs."""
    if num_workers < 0:
        raise ValueError(f"num_workers must be >= 0, got {num_workers}")
    if prefetch_factor is not None and num_workers == 0:
        raise ValueError("prefetch_factor needs num_workers > 0 (the main process does not prefetch)")
    pin_memory = pin_memory and torch.accelerator.is_available()  # page-locking needs an accelerator
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        pin_memory=pin_memory,
        prefetch_factor=prefetch_factor,
        persistent_workers=num_workers > 0,
        collate_fn=collate_fn,
        generator=torch.Generator().manual_seed(seed),
        worker_init_fn=_seed_worker if num_workers > 0 else None,
        drop_last=drop_last,
    )
