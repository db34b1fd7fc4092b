"""Markdown reports with PNG line plots (matplotlib, headless) for the demos."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def smooth(values: list[float], window: int = 10) -> np.ndarray:
    """Trailing moving average, so noisy per-step losses read as curves."""
    v = np.asarray(values, float)
    if len(v) < window:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    head = c[1:window] / np.arange(1, window)
    return np.concatenate([head, (c[window:] - c[:-window]) / window])


def plot_curves(
    path: Path, curves: dict[str, list[float]], title: str, ylabel: str, xlabel: str = "step", log=False
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for label, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=label, linewidth=1.2)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(out_dir: Path, name: str, title: str, lines: list[str]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.md"
    path.write_text(f"# {title}\n\n" + "\n".join(lines) + "\n")
    return path


def table(header: list[str], rows: list[list]) -> list[str]:
    def cell(v):
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in rows
    ]
