"""DataLoader throughput against num_workers, with pinned memory and prefetch (0.8 exercise 5).

Items that cost real work to fetch (a lazily tokenized text line, padded into a batch) are read
through `groundup.train.loader.make_loader` with 0, 1, 2 and 4 workers and prefetch factors 2 and
4, and a memory-mapped token file (fetching is a slice: almost free) with 0 and 2 workers. Each
row is the items/s of one full pass (workers started beforehand). Workers help only when fetching
costs more than handing a batch between processes, and only up to the cores that are free: the
machine's load average is in the report. `pin_memory` is requested on every row but only takes
effect with an accelerator (page-locked host memory is what a GPU copies from asynchronously).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import Report
from groundup.train.loader import TextLineDataset, TokenFileDataset, make_loader, pad_collate, write_tokens


def slow_encode(text: str) -> list[int]:
    """A deliberately costly tokenizer stand-in: ~0.2 ms of Python per line (bytes, then 20 mixing passes)."""
    ids = list(text.encode())
    for _ in range(20):
        ids = [(i * 31 + 7) % 251 for i in ids]
    return ids


def items_per_second(loader, items: int) -> float:
    for _ in loader:  # first pass starts the persistent workers
        break
    start = time.perf_counter()
    for _ in loader:
        pass
    return items / (time.perf_counter() - start)


def run(report: Report, quick: bool = False) -> None:
    n = 2000 if quick else 10000
    rng = np.random.default_rng(0)
    texts = ["".join(chr(97 + c) for c in rng.integers(0, 26, 80)) for _ in range(n)]
    lines = TextLineDataset(texts, [0] * n, slow_encode)
    settings = [(0, None), (1, 2), (2, 2), (2, 4), (4, 2)]
    for workers, prefetch in settings:
        loader = make_loader(
            lines, 64, num_workers=workers, prefetch_factor=prefetch, pin_memory=True, collate_fn=pad_collate
        )
        rate = items_per_second(loader, n)
        report.add(
            case="text lines (tokenized lazily)", num_workers=workers, prefetch=prefetch, items_per_s=rate
        )
        print(f"text lines  workers {workers} prefetch {prefetch}: {rate:,.0f} items/s")
    with tempfile.TemporaryDirectory() as tmp:
        path = write_tokens(Path(tmp) / "train.bin", rng.integers(0, 65, 64 * n + 1).tolist())
        blocks = TokenFileDataset(path, block_size=64)
        for workers, prefetch in ((0, None), (2, 2)):
            loader = make_loader(blocks, 64, num_workers=workers, prefetch_factor=prefetch, pin_memory=True)
            rate = items_per_second(loader, len(blocks))
            report.add(
                case="memory-mapped token blocks", num_workers=workers, prefetch=prefetch, items_per_s=rate
            )
            print(f"token file  workers {workers} prefetch {prefetch}: {rate:,.0f} items/s")
