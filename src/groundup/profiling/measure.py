"""Wall-clock timing with warm-up and repeats, and peak resident memory while a call runs.

Medians, not means: on a shared 2-core machine one slow outlier says more about the neighbours than
about the code. Memory is the peak resident set size above the level before the call, so it sees
NumPy, PyTorch and C++ allocations alike (tracemalloc would miss torch's). On Linux the kernel keeps
the peak itself: writing "5" to /proc/self/clear_refs resets the high-water mark `VmHWM` to the
current RSS, and reading `VmHWM` afterwards gives the true peak, however short-lived the allocation.
Elsewhere a thread samples RSS every few milliseconds, which can miss a brief spike.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

STATUS, CLEAR_REFS = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int | None:
    """A `VmXXX:  1234 kB` line of /proc/self/status, in KiB; None where there is no such file."""
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark to the current RSS; False where the kernel does not allow it."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None


class PeakRSS:
    """Context manager: `.peak_mb` is the highest RSS inside the block minus RSS at entry.

    `.method` says how it was measured: "kernel" (VmHWM, exact) or "sampled" (a thread, every
    `interval_s`).
    """

    active: list[PeakRSS] = []  # open "kernel" blocks: an inner reset must not lose an outer peak

    def __init__(self, interval_s: float = 0.002) -> None:
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self.method = "kernel"
        self.peak_before_reset = 0  # bytes: the outer block's peak when an inner block reset it

    def __enter__(self) -> PeakRSS:
        before = _status_kib("VmHWM")
        if reset_peak_rss():
            for outer in PeakRSS.active:
                outer.peak_before_reset = max(outer.peak_before_reset, before * 1024)
            PeakRSS.active.append(self)
            self.baseline = _status_kib("VmRSS") * 1024
            return self
        import psutil  # only for the fallback: the kernel's counters need no package

        self.method = "sampled"
        self.process = psutil.Process(os.getpid())
        self.baseline = self.highest = self.process.memory_info().rss
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()
        return self

    def sample(self) -> None:
        while not self.stop.is_set():
            self.highest = max(self.highest, self.process.memory_info().rss)
            self.stop.wait(self.interval_s)

    def __exit__(self, *exc) -> None:
        if self.method == "kernel":
            PeakRSS.active.remove(self)
            highest = max(_status_kib("VmHWM") * 1024, self.peak_before_reset)
        else:
            self.stop.set()
            self.thread.join()
            highest = max(self.highest, self.process.memory_info().rss)
        self.peak_mb = max(0, highest - self.baseline) / 2**20


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
