"""The general supervised loop: any model, any `Task`, batches from any `DataLoader` (0.8).

The char-LM trainer (`trainer.py`) draws random blocks of one token stream; everything else (images,
tables, labelled text, and language modelling over a token file as well) comes in epochs of batches
from a `DataLoader`. `fit` is that loop, with the same parts as the LM trainer plus what other tasks
need:

    per batch    autocast (float32 | bfloat16 | float16 with loss scaling and overflow skips),
                 task.loss, backward, gradient clipping, AdamW step (trainable parameters only)
    per epoch    task.evaluate on the validation loader (the task's metrics, logged to metrics.jsonl),
                 ReduceLROnPlateau and early stopping on `monitor`, the best weights kept in memory
                 and, with `out`, saved to best.safetensors
    options      torch.compile, gradient checkpointing of `model.blocks`

A `Task` is two methods: `loss(model, batch) -> scalar tensor` and `evaluate(model, loader) -> dict`
of metrics (`tasks_zoo.py` has classification, regression and language modelling).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch

from groundup.train.amp import DTYPES, Precision
from groundup.train.metrics import MetricsLog
from groundup.train.plateau import EarlyStopping, ReduceOnPlateau


class Task(Protocol):
    def loss(self, model, batch) -> torch.Tensor: ...

    def evaluate(self, model, loader) -> dict[str, float]: ...


@dataclass
class FitConfig:
    epochs: int = 10
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 0.0  # 0 = no clipping
    dtype: str = "float32"  # or bfloat16 (autocast), float16 (autocast + GradScaler)
    compile: bool = False
    checkpointing: bool = False  # recompute each of model.blocks in backward
    monitor: str = "loss"  # the validation metric for plateau, early stopping and "best"
    mode: str = "min"
    plateau_patience: int = 0  # 0 = constant lr; else ReduceOnPlateau(patience=...)
    plateau_factor: float = 0.5
    min_lr: float = 0.0
    early_stopping: int = 0  # 0 = never; else stop after this many epochs without a better monitor
    max_steps: int = 0  # 0 = no limit: stop after this many optimizer steps
    seed: int = 0

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {self.mode!r}")
        for name in ("epochs",):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("plateau_patience", "early_stopping", "max_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)  # one row per epoch
    best: dict = field(default_factory=dict)  # the row of the best epoch
    stopped_early: bool = False
    steps: int = 0
    skipped_steps: int = 0  # float16 steps skipped because a gradient overflowed
    seconds: float = 0.0


def fit(model, task: Task, train_loader, val_loader, cfg: FitConfig, out=None, echo=None) -> FitResult:
    """Train `model` on `task`; afterwards the model holds the best epoch's weights (by `monitor`)."""
    from groundup.train.grad_checkpoint import checkpoint_blocks

    torch.manual_seed(cfg.seed)
    if cfg.checkpointing:
        checkpoint_blocks(model)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model: every parameter is frozen; unfreeze some before training")
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    precision = Precision(cfg.dtype)
    plateau = (
        ReduceOnPlateau(optimizer, cfg.mode, cfg.plateau_factor, cfg.plateau_patience, min_lr=cfg.min_lr)
        if cfg.plateau_patience
        else None
    )
    # a relative 1e-4 is "no better" (torch's plateau threshold): evaluation noise is not progress
    stopper = EarlyStopping(cfg.early_stopping, cfg.mode, threshold=1e-4) if cfg.early_stopping else None
    forward = torch.compile(model) if cfg.compile else model
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
    log = MetricsLog(Path(out) / "metrics.jsonl" if out else None, None)
    result, best_state = FitResult(), None
    best_value = math.inf if cfg.mode == "min" else -math.inf
    start = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        total, batches = 0.0, 0
        for batch in train_loader:
            with precision.autocast():
                loss = task.loss(forward, batch)
            precision.backward(loss)
            precision.step(optimizer, params, cfg.grad_clip)
            optimizer.zero_grad(set_to_none=True)
            total, batches, result.steps = total + loss.item(), batches + 1, result.steps + 1
            if cfg.max_steps and result.steps >= cfg.max_steps:
                break
        model.eval()
        with torch.no_grad(), precision.autocast():
            metrics = task.evaluate(model, val_loader)
        if cfg.monitor not in metrics:
            raise ValueError(f"monitor: the task reports {sorted(metrics)}, not {cfg.monitor!r}")
        row = {
            "epoch": epoch,
            "iter": result.steps,
            "train_loss": total / max(batches, 1),
            **{f"val_{k}": v for k, v in metrics.items()},
            "lr": optimizer.param_groups[0]["lr"],
            "elapsed_s": time.perf_counter() - start,
        }
        result.history.append(row)
        log.write(**row)
        if echo:
            echo(" ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
        value = metrics[cfg.monitor]
        if (value < best_value) if cfg.mode == "min" else (value > best_value):
            best_value, result.best = value, row
            best_state = copy.deepcopy(model.state_dict())
            if out:
                from safetensors.torch import save_file

                weights = {k: v.detach().clone() for k, v in best_state.items()}  # tied weights: a copy each
                save_file(weights, str(Path(out) / "best.safetensors"))
        if plateau is not None:
            plateau.step(value)
        if stopper is not None and stopper.step(value):
            result.stopped_early = True
            break
        if cfg.max_steps and result.steps >= cfg.max_steps:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    result.skipped_steps, result.seconds = precision.skipped, time.perf_counter() - start
    return result
