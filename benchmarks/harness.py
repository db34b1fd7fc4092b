"""The benchmark report: rows of ours-vs-peer timings, printed as a table and saved as JSON.

Speed ratio convention: `speedup = peer median time / our median time` (above 1: ours is faster),
always measured in one process, one after the other, with the machine load recorded beside it.

Results go to ./groundup-out/bench/NAME.json by default; the committed benchmarks/results/ is written
only when asked (`python -m benchmarks NAME --write-docs`, which `make bench` runs).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from groundup.profiling import Timing, measure
from groundup.reports import write_json

RESULTS_DIR = Path(__file__).resolve().parent / "results"  # committed: written with --write-docs
USER_DIR = Path("groundup-out") / "bench"  # the default, relative to the current folder


def environment() -> dict:
    """What the numbers depend on: CPU count, load, thread settings and library versions."""
    info = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info


@dataclass
class Report:
    """Rows of one benchmark run. Use `compare` for ours-vs-peer rows and `add` for anything else."""

    name: str
    rows: list[dict] = field(default_factory=list)
    env: dict = field(default_factory=environment)
    directory: Path = USER_DIR  # where `save` writes NAME.json (and a benchmark its extra files)

    def compare(
        self,
        case: str,
        ours: Callable[[], object],
        peer: Callable[[], object],
        *,
        peer_name: str,
        work: float | None = None,
        unit: str = "items",
        warmup: int = 1,
        repeats: int = 5,
        **extra,
    ) -> dict:
        """Time both callables; `work` units per call (tokens, samples) turns times into throughput."""
        timings: dict[str, Timing] = {}
        for label, fn in (("ours", ours), ("peer", peer)):
            timings[label] = measure(fn, warmup=warmup, repeats=repeats)
        row = {
            "case": case,
            "peer": peer_name,
            "ours_median_s": timings["ours"].median_s,
            "peer_median_s": timings["peer"].median_s,
            "speedup": timings["peer"].median_s / timings["ours"].median_s,
            "ours_peak_mb": timings["ours"].peak_mb,
            "peer_peak_mb": timings["peer"].peak_mb,
            "ours_times_s": timings["ours"].times_s,
            "peer_times_s": timings["peer"].times_s,
            **extra,
        }
        if work:
            row[f"ours_{unit}_per_s"] = work / timings["ours"].median_s
            row[f"peer_{unit}_per_s"] = work / timings["peer"].median_s
        self.rows.append(row)
        return row

    def add(self, **row) -> dict:
        self.rows.append(row)
        return row

    def table(self) -> str:
        """A plain-text table of the scalar columns every row has in common with the first."""
        if not self.rows:
            return f"{self.name}: no rows"
        columns = [k for k, v in self.rows[0].items() if not isinstance(v, list | dict)]
        cells = [[format_cell(r.get(c)) for c in columns] for r in self.rows]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in cells]
        return "\n".join(lines)

    def save(self, directory: Path | None = None) -> Path:
        """Write NAME.json atomically into `directory` (default: the report's own)."""
        self.env["load_avg_1m_end"] = os.getloadavg()[0]
        record = {"name": self.name, "env": self.env, "rows": self.rows}
        return write_json(Path(directory or self.directory) / f"{self.name}.json", record)


def format_cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)
