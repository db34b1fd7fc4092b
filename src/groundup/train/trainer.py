"""The training loop shared by GPT and the whole makemore ladder.

One step: draw `grad_accum` micro-batches, add up their gradients (each loss divided by grad_accum so
the sum is the mean over the whole batch), clip the global gradient norm, set the scheduled lr, take
an AdamW step. Every `eval_interval` steps: estimate train/val loss on fixed batches, maybe stop
early, checkpoint. Every quantity that decides the next loss (weights, AdamW moments, schedule
position, the batch generator, the global RNG used by dropout) is checkpointed, so a killed run
resumes bit-identically. Metrics go to `metrics.jsonl`, the curves to `loss.png`.

`Run` holds one run's state in three parts: setup (`Run(...)`, then `restore` from a checkpoint),
`step` (one optimizer step) and `evaluate_and_checkpoint`; `Run.train` is the loop over them.

A non-finite loss or gradient (a learning rate too high, no clipping) stops the run with
`DivergedError` before the weights change, so the last checkpoint stays the last finite one; with
`skip_nonfinite` such a step is skipped instead (as torch's GradScaler skips an overflowing step) and
counted. A checkpoint is never written from non-finite weights.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from groundup.data import load_text
from groundup.errors import GroundupError
from groundup.outputs import writing_to
from groundup.tokenizers.char import CharTokenizer
from groundup.train import distributed
from groundup.train.checkpoint import (
    CKPT_NAME,
    PREV_NAME,
    Checkpoint,
    CheckpointError,
    checkpoint_path,
    load_checkpoint,
    save_checkpoint,
)
from groundup.train.config import TrainConfig, arch_differences
from groundup.train.data import Batcher, split_tokens
from groundup.train.metrics import MetricsLog, plot_losses
from groundup.train.optim import make_adamw
from groundup.train.schedules import WarmupCosine
from groundup.train.zoo import build_model, count_params

EVAL_SEED_OFFSET = 1000  # evaluation batches come from their own generator: the same batches every time
RUN_FILES = (CKPT_NAME, PREV_NAME, "metrics.jsonl", "loss.png", "report.md")  # what a run writes


class DivergedError(GroundupError):
    """The loss or the gradients became inf/NaN: training cannot continue from these weights."""


@dataclass
class TrainResult:
    out_dir: Path | None
    iters: int
    train_loss: float
    val_loss: float
    best_val_loss: float
    stopped_early: bool
    wall_s: float
    tokens_per_s: float
    params: int
    evals: list[dict]  # {"iter", "val_loss", "elapsed_s"} per evaluation of this process
    first_step_s: float = 0.0  # the untimed first step: warm-up, and compilation with `compile`
    skipped_steps: int = 0  # non-finite steps skipped (with `skip_nonfinite`)


def lm_loss(model, x, y) -> torch.Tensor:
    logits = model(x)  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))


@torch.no_grad()
def estimate_loss(model, batcher: Batcher, iters: int, seed: int, autocast, dist_info) -> float:
    """Mean loss over `iters` fixed batches (same seed, same batches), in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    total = torch.zeros(())
    for _ in range(iters):
        x, y = batcher.sample(generator)
        with autocast():
            total += lm_loss(model, x, y).float()
    model.train(was_training)
    return distributed.mean_across_ranks(total / iters, dist_info).item()


def load_corpus(cfg: TrainConfig, text: str | None) -> str:
    if text is not None:
        return text
    return load_text(cfg.dataset, path=cfg.data_path or None)


def train(
    cfg: TrainConfig, out_dir=None, *, resume: bool = False, overwrite: bool = False, text: str | None = None
) -> TrainResult:
    """Train `cfg.model` on a character corpus; with `resume`, continue from out_dir's checkpoint.

    A folder that already holds files is refused unless `resume` (continue it) or `overwrite` (replace
    the run's files); a run that fails before writing anything leaves no empty folder behind.
    """
    out = Path(out_dir) if out_dir else None
    if out is not None:
        check_out_dir(out, resume, overwrite)
    dist_info = distributed.setup()
    try:
        if out is None or not dist_info.is_main:
            return _train(cfg, out, resume, text, dist_info)
        with writing_to(out):
            return _train(cfg, out, resume, text, dist_info)
    finally:
        distributed.teardown(dist_info)


def check_out_dir(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to mix a new run into a folder with files unless asked; `overwrite` removes the old run's
    files (only those a run writes), so its checkpoint cannot turn up later as ckpt.prev."""
    if resume and overwrite:
        raise ValueError("resume and overwrite exclude each other: continue the run or replace it")
    if out.exists() and not out.is_dir():
        raise GroundupError(f"{out} is a file; the run needs a folder (--out DIR)")
    if resume or not out.is_dir():
        return
    present = sorted(p.name for p in out.iterdir())
    if present and not overwrite:
        shown = ", ".join(present[:4]) + (", ..." if len(present) > 4 else "")
        raise GroundupError(
            f"{out} is not empty ({shown}); continue that run with --resume, replace it with --overwrite, "
            "or choose a new --out"
        )
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)


def _train(cfg: TrainConfig, out: Path | None, resume: bool, text: str | None, dist_info) -> TrainResult:
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    corpus = load_corpus(cfg, text)
    ckpt = resume_checkpoint(cfg, out) if resume else None
    # A resumed run keeps the vocabulary it was trained with.
    tokenizer = CharTokenizer(ckpt.meta["vocab"]) if ckpt else CharTokenizer.from_text(corpus)
    run = Run(cfg, out, dist_info, tokenizer, corpus)
    if hasattr(run.model, "fit"):  # count-based models are fitted, not trained
        return run.fit()
    run.restore(ckpt)
    return run.train()


def resume_checkpoint(cfg: TrainConfig, out: Path | None) -> Checkpoint:
    """out's checkpoint; CheckpointError when there is none or it was trained with another architecture."""
    if out is None:
        raise CheckpointError("resuming needs the run's output directory (--out DIR)")
    ckpt = load_checkpoint(out)
    diffs = arch_differences(ckpt.meta["config"], cfg)
    if diffs:
        raise CheckpointError(
            f"checkpoint {checkpoint_path(out)} was trained with a different architecture: "
            f"{'; '.join(diffs)}; use the checkpoint's values or a new --out directory"
        )
    if ckpt.meta["iter"] >= cfg.max_iters:
        raise CheckpointError(
            f"the run in {out} has already trained {ckpt.meta['iter']} iterations, and max_iters is "
            f"{cfg.max_iters}: nothing to continue; give a larger --max-iters to train further"
        )
    return ckpt


class Throughput:
    """Tokens per second over every step of this process but its first (warm-up, compilation)."""

    def __init__(self) -> None:
        self.tokens, self.seconds, self.first_step_s, self.steps = 0, 0.0, 0.0, 0

    def add(self, tokens: int, seconds: float) -> None:
        if self.steps:
            self.tokens, self.seconds = self.tokens + tokens, self.seconds + seconds
        else:
            self.first_step_s = seconds
        self.steps += 1

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


class Run:
    """One training run: data, model, schedule and batch generator (built here), the optimizer,
    counters and metrics log (`restore`), then the loop (`train`) of `step` and `evaluate_and_checkpoint`."""

    def __init__(
        self, cfg: TrainConfig, out: Path | None, dist_info, tokenizer: CharTokenizer, corpus: str
    ) -> None:
        self.cfg, self.out, self.dist_info, self.tokenizer = cfg, out, dist_info, tokenizer
        self.writes = out is not None and dist_info.is_main  # only the main rank writes files
        tokens = torch.tensor(tokenizer.encode(corpus), dtype=torch.long)
        self.train_tokens, val_tokens = split_tokens(tokens, cfg.val_fraction, cfg.block_size)
        shard = dict(rank=dist_info.rank, world=dist_info.world)
        self.train_batches = Batcher(self.train_tokens, cfg.block_size, cfg.batch_size, **shard)
        self.val_batches = Batcher(val_tokens, cfg.block_size, cfg.batch_size, **shard)
        torch.manual_seed(cfg.seed)
        self.model = build_model(cfg, tokenizer.vocab_size)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.schedule = WarmupCosine(cfg.lr, cfg.min_lr, cfg.warmup_iters, cfg.lr_decay_iters)
        self.iters, self.best_val, self.bad_evals, self.val = 0, math.inf, 0, math.nan
        self.skipped, self.saved_iter = 0, None
        self.evals: list[dict] = []
        self.start_time = time.perf_counter()

    def autocast(self):
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cfg.dtype == "bfloat16")

    def evaluate(self, batches: Batcher) -> float:
        seed = self.cfg.seed + EVAL_SEED_OFFSET
        return estimate_loss(self.model, batches, self.cfg.eval_iters, seed, self.autocast, self.dist_info)

    def meta(self) -> dict:
        """The JSON part of a checkpoint: config, position, vocabulary, early stopping, schedule."""
        return {
            "config": self.cfg.to_dict(),
            "iter": self.iters,
            "vocab": self.tokenizer.chars,
            "best_val_loss": self.best_val,
            "bad_evals": self.bad_evals,
            "scheduler": self.schedule.state_dict(),
            "skipped_steps": self.skipped,
        }

    def fit(self) -> TrainResult:
        """Count-based models: one fit on the training tokens, one evaluation, one checkpoint."""
        self.model.fit(self.train_tokens)
        val = self.best_val = self.evaluate(self.val_batches)
        train_loss = self.evaluate(self.train_batches)
        if self.writes:
            save_checkpoint(
                self.out, model_state=self.model.state_dict(), optimizer_state=None, rng={}, meta=self.meta()
            )
            MetricsLog(self.out / "metrics.jsonl", None).write(iter=0, train_loss=train_loss, val_loss=val)
        wall = time.perf_counter() - self.start_time
        evals = [{"iter": 0, "val_loss": val, "elapsed_s": wall}]
        return TrainResult(self.out, 0, train_loss, val, val, False, wall, 0.0, 0, evals)

    def restore(self, ckpt: Checkpoint | None) -> None:
        """Make the optimizer; from `ckpt`, take back weights, moments, schedule, both RNGs and counters."""
        cfg = self.cfg
        betas = (cfg.beta1, cfg.beta2)
        self.optimizer = make_adamw(self.model, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=betas)
        if ckpt is not None:
            self.model.load_state_dict(ckpt.model)
            self.optimizer.load_state_dict(ckpt.optimizer)
            self.schedule.load_state_dict(ckpt.meta["scheduler"])
            torch.set_rng_state(ckpt.rng["torch"])
            self.generator.set_state(ckpt.rng["data"])
            self.iters, self.best_val = ckpt.meta["iter"], ckpt.meta["best_val_loss"]
            self.bad_evals = ckpt.meta["bad_evals"]
            self.skipped = ckpt.meta.get("skipped_steps", 0)
            self.saved_iter = self.iters
        metrics = self.out / "metrics.jsonl" if self.writes else None
        self.log = MetricsLog(metrics, self.iters if ckpt else None)
        self.forward_model = self.model
        if self.dist_info.enabled:
            self.forward_model = torch.nn.parallel.DistributedDataParallel(self.model)
        if cfg.compile:
            self.forward_model = torch.compile(self.forward_model)

    def step(self) -> tuple[float, torch.Tensor]:
        """One optimizer step over `grad_accum` micro-batches: (the scheduled lr, the summed loss).

        A non-finite loss or gradient norm raises DivergedError before the weights change, or with
        `skip_nonfinite` drops the gradients and counts the step as skipped."""
        cfg = self.cfg
        lr = self.schedule.apply(self.optimizer)
        loss_sum = torch.zeros(())
        for micro in range(cfg.grad_accum):
            x, y = self.train_batches.sample(self.generator)
            # DDP all-reduces gradients only on the last micro-batch; earlier ones accumulate locally.
            accumulate = self.dist_info.enabled and micro < cfg.grad_accum - 1
            with self.forward_model.no_sync() if accumulate else contextlib.nullcontext():
                with self.autocast():
                    loss = lm_loss(self.forward_model, x, y) / cfg.grad_accum
                loss.backward()
            loss_sum += loss.detach().float()
        self.iters += 1
        params = [p for p in self.model.parameters() if p.grad is not None]
        grad_norm = torch.nn.utils.get_total_norm([p.grad for p in params])
        if self.nonfinite(loss_sum, grad_norm):
            self.optimizer.zero_grad(set_to_none=True)
            if not cfg.skip_nonfinite:
                self.log.write(iter=self.iters, loss=loss_sum.item(), lr=lr, grad_norm=grad_norm.item())
                raise self.diverged(f"the loss is {loss_sum.item()} and the gradient norm {grad_norm.item()}")
            self.skipped += 1
            return lr, loss_sum
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grads_with_norm_(params, cfg.grad_clip, grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return lr, loss_sum

    def nonfinite(self, *values: torch.Tensor) -> bool:
        """True when any value is inf/NaN on any rank (every rank then takes the same decision)."""
        bad = torch.stack([~torch.isfinite(v.detach().float()) for v in values]).any().float()
        return bool(distributed.mean_across_ranks(bad, self.dist_info) > 0)

    def diverged(self, what: str) -> DivergedError:
        """The one-line error for a run that went non-finite at the current iteration, with the likely cause."""
        cfg = self.cfg
        causes = []
        if cfg.lr >= 0.1:
            causes.append(f"the learning rate {cfg.lr:g} is far too high (try 1e-3)")
        if cfg.grad_clip == 0:
            causes.append("gradient clipping is off (--grad-clip 0; the default is 1.0)")
        cause = "; ".join(causes) or f"the learning rate {cfg.lr:g} is likely too high for this model"
        if not self.writes:
            kept = ""
        elif self.saved_iter is None:
            kept = f"No checkpoint was written to {self.out}. "
        else:
            kept = f"The last finite checkpoint (iteration {self.saved_iter}) in {self.out} is kept. "
        return DivergedError(
            f"training diverged at iteration {self.iters}: {what}. Likely cause: {cause}. {kept}"
            "Lower --lr, or pass --skip-nonfinite to skip such steps."
        )

    def evaluate_and_checkpoint(self) -> bool:
        """Estimate val and train loss, track the best, checkpoint; True when patience has run out."""
        self.val = self.evaluate(self.val_batches)
        elapsed = time.perf_counter() - self.start_time
        self.evals.append({"iter": self.iters, "val_loss": self.val, "elapsed_s": elapsed})
        train_loss = self.evaluate(self.train_batches)
        self.log.write(iter=self.iters, train_loss=train_loss, val_loss=self.val, elapsed_s=elapsed)
        if not (math.isfinite(self.val) and math.isfinite(train_loss)):
            raise self.diverged(f"the validation loss is {self.val} and the training loss {train_loss}")
        if self.val < self.best_val:
            self.best_val, self.bad_evals = self.val, 0
        else:
            self.bad_evals += 1
        self.save()
        return self.cfg.patience > 0 and self.bad_evals >= self.cfg.patience

    def save(self) -> None:
        """Checkpoint the run, never from non-finite weights (the previous checkpoint stays)."""
        if any(not torch.isfinite(p).all() for p in self.model.parameters()):
            raise self.diverged("the weights hold inf/NaN values")
        if self.writes:
            save_checkpoint(
                self.out,
                model_state=self.model.state_dict(),
                optimizer_state=self.optimizer.state_dict(),
                rng={"torch": torch.get_rng_state(), "data": self.generator.get_state()},
                meta=self.meta(),
            )
            self.saved_iter = self.iters

    def train(self) -> TrainResult:
        """Steps from the restored position to `max_iters`: log, evaluate, checkpoint, stop early."""
        cfg, main = self.cfg, self.dist_info.is_main
        tokens_per_iter = cfg.batch_size * cfg.block_size * cfg.grad_accum * self.dist_info.world
        bar = tqdm(total=cfg.max_iters, initial=self.iters, disable=not (cfg.progress and main), unit="it")
        speed, loss_value, stopped_early = Throughput(), math.nan, False
        self.model.train()
        try:
            while self.iters < cfg.max_iters and not stopped_early:
                t0 = time.perf_counter()
                lr, loss_sum = self.step()
                dt = time.perf_counter() - t0
                speed.add(tokens_per_iter, dt)
                last = self.iters == cfg.max_iters
                if self.iters % cfg.log_interval == 0 or last:
                    loss_value = distributed.mean_across_ranks(loss_sum, self.dist_info).item()
                    skipped = {"skipped_steps": self.skipped} if cfg.skip_nonfinite else {}
                    row = dict(loss=loss_value, lr=lr, tokens_per_s=tokens_per_iter / dt, **skipped)
                    self.log.write(iter=self.iters, **row)
                    bar.set_postfix(loss=f"{loss_value:.4f}", tok_s=f"{tokens_per_iter / dt:,.0f}")
                bar.update(1)
                if self.iters % cfg.eval_interval == 0 or last:
                    stopped_early = self.evaluate_and_checkpoint()
                elif cfg.ckpt_interval and self.iters % cfg.ckpt_interval == 0:
                    self.save()
        finally:  # the curves up to a divergence are worth seeing too
            bar.close()
            if self.writes:
                title = f"{cfg.model} on {cfg.dataset}"
                plot_losses(self.out / "metrics.jsonl", self.out / "loss.png", title=title)
        wall = time.perf_counter() - self.start_time
        return TrainResult(
            self.out,
            self.iters,
            loss_value,
            self.val,
            self.best_val,
            stopped_early,
            wall,
            speed.tokens_per_s,
            count_params(self.model),
            self.evals,
            speed.first_step_s,
            self.skipped,
        )
