"""The makemore ladder on one corpus: every rung trained by the same loop at comparable parameter
counts (about 100k, except the two bigrams, whose table is vocab x vocab), then one table and one plot.
"""

from __future__ import annotations

import math
from pathlib import Path

from groundup.errors import GroundupError
from groundup.reports import figure, write_json, write_text
from groundup.train.config import make_config
from groundup.train.metrics import read_metrics, values
from groundup.train.trainer import train

# rung -> architecture overrides, sized to about 100k parameters on a 65-character vocabulary
RUNGS: dict[str, dict] = {
    "bigram_counts": {},
    # The neural bigram is a convex softmax regression: a larger step, 8x larger batches (same eval
    # batches) and weight decay towards uniform logits (the count table's smoothing) take it to the
    # count model's loss in the same 2000 steps; at the shared settings it stopped at 3.05.
    "bigram": dict(lr=0.1, min_lr=1e-3, weight_decay=0.1, grad_accum=8),
    "mlp": dict(n_embd=24, context=8, n_hidden=384),
    "wavenet": dict(n_embd=24, n_hidden=144, n_layer=3),
    "rnn": dict(n_embd=24, n_hidden=256, n_layer=1),
    "lstm": dict(n_embd=24, n_hidden=128, n_layer=1),
    "gru": dict(n_embd=24, n_hidden=150, n_layer=1),
    "lstm_attention": dict(n_embd=24, n_hidden=100, n_layer=1),
    "gpt": dict(n_layer=4, n_head=4, n_embd=44),
}

# the same optimisation for every rung
SHARED = dict(
    block_size=64,
    batch_size=32,
    lr=3e-3,
    min_lr=3e-4,
    warmup_iters=100,
    weight_decay=0.01,
    eval_interval=250,
    eval_iters=40,
    log_interval=10,
)


def run_ladder(
    out_dir, *, max_iters: int = 2000, only=None, text=None, threads: int = 0, progress=True, overwrite=False
) -> list[dict]:
    """Train the rungs (all, or those named in `only`), write ladder.md/json/png, return the rows;
    a rung whose folder already holds a run is refused unless `overwrite`."""
    out = Path(out_dir)
    names = list(only) if only else list(RUNGS)
    unknown = [n for n in names if n not in RUNGS]
    if unknown:
        raise ValueError(f"unknown ladder rung(s) {', '.join(unknown)}; rungs: {', '.join(RUNGS)}")
    taken = [n for n in names if not overwrite and (out / n).is_dir() and any((out / n).iterdir())]
    if taken:  # checked for every rung before the first one trains
        raise GroundupError(
            f"{out} already holds the rung(s) {', '.join(taken)}; replace them with --overwrite or choose a new --out"
        )
    rows = []
    for name in names:
        cfg = make_config(
            model=name,
            max_iters=max_iters,
            threads=threads,
            progress=progress,
            **{**SHARED, **RUNGS[name]},
        )
        result = train(cfg, out / name, text=text, overwrite=overwrite)
        rows.append(
            {
                "model": name,
                "params": result.params,
                "val_loss": result.best_val_loss,
                "perplexity": math.exp(result.best_val_loss),
                "wall_s": result.wall_s,
                "tokens_per_s": result.tokens_per_s,
                "iters": result.iters,
            }
        )
    write_json(out / "ladder.json", rows)
    write_text(out / "ladder.md", ladder_table(rows))
    plot_ladder(rows, out / "ladder.png")
    return rows


def ladder_table(rows: list[dict]) -> str:
    lines = [
        "| model | parameters | val loss (nats/char) | perplexity | wall time (s) | tokens/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['params']:,} | {r['val_loss']:.4f} | {r['perplexity']:.2f} | "
            f"{r['wall_s']:.1f} | {r['tokens_per_s']:,.0f} |"
        )
    return "\n".join(lines) + "\n"


def plot_ladder(rows: list[dict], png_path: Path) -> Path:
    """Validation loss per rung (bars) beside each rung's loss curve over training."""
    with figure(png_path, ncols=2, figsize=(12, 4.5)) as (_, (bars, curves)):
        bars.bar([r["model"] for r in rows], [r["val_loss"] for r in rows], color="tab:blue")
        bars.set_ylabel("best validation loss (nats/char)")
        bars.tick_params(axis="x", rotation=45)
        bars.set_title("the ladder on tiny Shakespeare")
        for r in rows:
            metrics = png_path.parent / r["model"] / "metrics.jsonl"
            evals = [m for m in read_metrics(metrics) if "val_loss" in m] if metrics.exists() else []
            if len(evals) > 1:
                curves.plot(
                    [m["iter"] for m in evals], values(evals, "val_loss"), "o-", ms=3, label=r["model"]
                )
        curves.set_xlabel("iteration")
        curves.set_ylabel("validation loss")
        curves.grid(alpha=0.3)
        if curves.lines:
            curves.legend(fontsize=8)
    return png_path
