"""A run's markdown report: what was trained, how well, how fast, and a sample of what it writes."""

from __future__ import annotations

import math
from pathlib import Path

from groundup.reports import write_text
from groundup.train.config import TrainConfig
from groundup.train.schedules import WarmupCosine
from groundup.train.trainer import TrainResult


def schedule(cfg: TrainConfig) -> WarmupCosine:
    return WarmupCosine(cfg.lr, cfg.min_lr, cfg.warmup_iters, cfg.lr_decay_iters)


def write_run_report(out_dir, cfg: TrainConfig, result: TrainResult, sample: str) -> Path:
    """out_dir/report.md beside loss.png and metrics.jsonl."""
    out = Path(out_dir)
    skipped = (
        f"\nSkipped steps (non-finite loss or gradient): {result.skipped_steps}."
        if result.skipped_steps
        else ""
    )
    evals = "\n".join(f"| {e['iter']} | {e['val_loss']:.4f} | {e['elapsed_s']:.0f} |" for e in result.evals)
    text = f"""# {cfg.model} on {cfg.data_path or cfg.dataset}

| | |
|---|---|
| parameters | {result.params:,} |
| iterations | {result.iters}{" (stopped early)" if result.stopped_early else ""} |
| final validation loss | {result.val_loss:.4f} nats/char (perplexity {math.exp(result.val_loss):.2f}) |
| best validation loss | {result.best_val_loss:.4f} |
| final training loss (last batch) | {result.train_loss:.4f} |
| throughput | {result.tokens_per_s:,.0f} tokens/s |
| wall time | {result.wall_s:.0f} s |

Architecture: {cfg.n_layer} layers, {cfg.n_head} heads, n_embd {cfg.n_embd}, block {cfg.block_size},
{cfg.norm}-norm, {cfg.pos} positions, {cfg.activation}, tied weights {cfg.tie_weights}, dropout {cfg.dropout}.
Optimisation: batch {cfg.batch_size} x {cfg.grad_accum} accumulation, AdamW, betas ({cfg.beta1}, {cfg.beta2}),
weight decay {cfg.weight_decay}, clip {cfg.grad_clip or "off"}, {cfg.dtype}, compile {cfg.compile}.
Learning rate: {schedule(cfg).describe(cfg.max_iters)}.{skipped}

## Validation loss during training (in this process)

| iteration | val loss | elapsed (s) |
|---:|---:|---:|
{evals}

![loss curves](loss.png)

## Sample ({len(sample)} characters)

```
{sample}
```
"""
    return write_text(out / "report.md", text)
