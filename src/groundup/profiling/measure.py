"""Wall-clock timing with warm-up and repeats, and peak resident memory while a call runs.

Medians, not means: on a shared 2-core machine one slow outlier says more about the neighbours than
about the code. Memory is the peak resident set size above the level before the call, sampled by a
thread, so it sees NumPy, PyTorch and C++ allocations alike (tracemalloc would miss torch's).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import psutil


class PeakRSS:
    """Context manager: `.peak_mb` is the highest RSS seen inside the block minus RSS at entry."""

    def __init__(self, interval_s: float = 0.002) -> None:
        self.interval_s = interval_s
        self.process = psutil.Process(os.getpid())
        self.peak_mb = 0.0

    def __enter__(self) -> PeakRSS:
        self.baseline = self.process.memory_info().rss
        self.highest = self.baseline
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()
        return self

    def sample(self) -> None:
        while not self.stop.is_set():
            self.highest = max(self.highest, self.process.memory_info().rss)
            self.stop.wait(self.interval_s)

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.highest = max(self.highest, self.process.memory_info().rss)
        self.peak_mb = (self.highest - self.baseline) / 2**20


@dataclass
class Timing:
    """Seconds per call for each repeat, their median and minimum, and peak extra memory in MiB."""

    times_s: list[float]
    median_s: float
    min_s: float
    peak_mb: float

    def to_dict(self) -> dict:
        return asdict(self)


def measure(
    fn: Callable[[], object], *, warmup: int = 1, repeats: int = 5, track_memory: bool = True
) -> Timing:
    """Call `fn` `warmup` times untimed, then `repeats` times timed."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        fn()
    times = []
    peak = 0.0
    for _ in range(repeats):
        if track_memory:
            with PeakRSS() as mem:
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            peak = max(peak, mem.peak_mb)
        else:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return Timing(times, statistics.median(times), min(times), peak)
