"""A run's metrics: `metrics.jsonl` (one JSON object per line, each with an "iter") and its loss plot.

Steps log {"iter", "loss", "lr", "tokens_per_s"}; evaluations log {"iter", "train_loss", "val_loss",
"elapsed_s"}. The file is append-only; a resumed run first drops the entries past its checkpoint, so
the log reads as if the run had never stopped. It is strict JSON: a non-finite value (the loss of a
diverged step) is written as null, which every JSON reader accepts, where a bare NaN is not JSON.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from groundup.reports import figure, write_text


class MetricsLog:
    """Appends rows to `path` (nothing when `path` is None); `resume_iter` keeps rows up to that iter."""

    def __init__(self, path: Path | None, resume_iter: int | None):
        self.path = path
        if path is None:
            return
        if resume_iter is None:
            write_text(path, "")
        elif path.exists():  # rewritten atomically: a run killed here keeps its whole log
            kept = [line for line in path.read_text().splitlines() if json.loads(line)["iter"] <= resume_iter]
            write_text(path, "".join(line + "\n" for line in kept))

    def write(self, **row) -> None:
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write(json.dumps(finite_or_null(row), allow_nan=False) + "\n")


def finite_or_null(row: dict) -> dict:
    """The row with every inf/NaN float replaced by None (JSON null)."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}


def read_metrics(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def values(rows: list[dict], key: str) -> list[float]:
    """rows' `key` as floats for plotting, null (a non-finite value) as NaN: a gap in the curve."""
    return [math.nan if r[key] is None else r[key] for r in rows]


def plot_losses(metrics_path: Path, png_path: Path, *, title: str) -> Path:
    """Training loss per logged step and train/val estimates per evaluation, on one axis."""
    rows = read_metrics(metrics_path)
    steps = [r for r in rows if "loss" in r]
    evals = [r for r in rows if "val_loss" in r]
    with figure(png_path, figsize=(7, 4)) as (_, ax):
        if steps:
            iters = [r["iter"] for r in steps]
            ax.plot(iters, values(steps, "loss"), lw=0.8, alpha=0.6, label="train (batch)")
        if evals:
            iters = [r["iter"] for r in evals]
            ax.plot(iters, values(evals, "train_loss"), "o-", label="train (eval)")
            ax.plot(iters, values(evals, "val_loss"), "s-", label="validation")
        ax.set_xlabel("iteration")
        ax.set_ylabel("cross-entropy (nats/char)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    return png_path
