"""The training loop shared by GPT and the whole makemore ladder.

One step: draw `grad_accum` micro-batches, add up their gradients (each loss divided by grad_accum so
the sum is the mean over the whole batch), clip the global gradient norm, set the scheduled lr, take
an AdamW step. Every `eval_interval` steps: estimate train/val loss on fixed batches, maybe stop
early, checkpoint. Every quantity that decides the next loss (weights, AdamW moments, schedule
position, the batch generator, the global RNG used by dropout) is checkpointed, so a killed run
resumes bit-identically. Metrics go to `metrics.jsonl`, the curves to `loss.png`.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from groundup.data import load_text
from groundup.train import distributed
from groundup.train.checkpoint import CheckpointError, checkpoint_path, load_checkpoint, save_checkpoint
from groundup.train.config import TrainConfig, arch_differences
from groundup.train.data import Batcher, CharVocab, split_tokens
from groundup.train.optim import make_adamw
from groundup.train.plots import plot_losses
from groundup.train.schedules import WarmupCosine
from groundup.train.zoo import build_model, count_params

EVAL_SEED_OFFSET = 1000  # evaluation batches come from their own generator: the same batches every time


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


def lm_loss(model, x, y) -> torch.Tensor:
    logits = model(x)  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))


class MetricsLog:
    """Append-only JSONL of dicts with an 'iter' field; resuming drops entries past the checkpoint."""

    def __init__(self, path: Path | None, resume_iter: int | None):
        self.path = path
        if path is None:
            return
        if resume_iter is None:
            path.write_text("")
        elif path.exists():
            kept = [line for line in path.read_text().splitlines() if json.loads(line)["iter"] <= resume_iter]
            path.write_text("".join(line + "\n" for line in kept))

    def write(self, **row) -> None:
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write(json.dumps(row) + "\n")


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


def train(cfg: TrainConfig, out_dir=None, *, resume: bool = False, text: str | None = None) -> TrainResult:
    """Train `cfg.model` on a character corpus; with `resume`, continue from out_dir's checkpoint."""
    dist_info = distributed.setup()
    try:
        return _train(cfg, Path(out_dir) if out_dir else None, resume, text, dist_info)
    finally:
        distributed.teardown(dist_info)


def _train(cfg: TrainConfig, out: Path | None, resume: bool, text: str | None, dist_info) -> TrainResult:
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    main = dist_info.is_main
    if out is not None and main:
        out.mkdir(parents=True, exist_ok=True)
    corpus = load_corpus(cfg, text)
    ckpt = None
    if resume:
        if out is None:
            raise CheckpointError("resuming needs the run's output directory (--out DIR)")
        ckpt = load_checkpoint(out)
        diffs = arch_differences(ckpt.meta["config"], cfg)
        if diffs:
            raise CheckpointError(
                f"checkpoint {checkpoint_path(out)} was trained with a different architecture: "
                f"{'; '.join(diffs)}; use the checkpoint's values or a new --out directory"
            )
        vocab = CharVocab(ckpt.meta["vocab"])
    else:
        vocab = CharVocab.from_text(corpus)
    train_tokens, val_tokens = split_tokens(vocab.encode(corpus), cfg.val_fraction, cfg.block_size)
    train_batches = Batcher(
        train_tokens, cfg.block_size, cfg.batch_size, rank=dist_info.rank, world=dist_info.world
    )
    val_batches = Batcher(
        val_tokens, cfg.block_size, cfg.batch_size, rank=dist_info.rank, world=dist_info.world
    )

    torch.manual_seed(cfg.seed)
    model = build_model(cfg, vocab.size)
    generator = torch.Generator().manual_seed(cfg.seed)
    use_bf16 = cfg.dtype == "bfloat16"

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16)

    def evaluate(split_batches):
        return estimate_loss(
            model, split_batches, cfg.eval_iters, cfg.seed + EVAL_SEED_OFFSET, autocast, dist_info
        )

    def meta(iters, best, bad):
        return {
            "config": cfg.to_dict(),
            "iter": iters,
            "vocab": vocab.chars,
            "best_val_loss": best,
            "bad_evals": bad,
            "scheduler": schedule.state_dict(),
        }

    schedule = WarmupCosine(cfg.lr, cfg.min_lr, cfg.warmup_iters, cfg.lr_decay_iters)
    start_time = time.perf_counter()
    if hasattr(model, "fit"):  # count-based models are fitted, not trained
        model.fit(train_tokens)
        val = evaluate(val_batches)
        tr = evaluate(train_batches)
        if out is not None and main:
            save_checkpoint(
                out, model_state=model.state_dict(), optimizer_state=None, rng={}, meta=meta(0, val, 0)
            )
            MetricsLog(out / "metrics.jsonl", None).write(iter=0, train_loss=tr, val_loss=val)
        wall = time.perf_counter() - start_time
        return TrainResult(
            out, 0, tr, val, val, False, wall, 0.0, 0, [{"iter": 0, "val_loss": val, "elapsed_s": wall}]
        )

    optimizer = make_adamw(model, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(cfg.beta1, cfg.beta2))
    start_iter, best_val, bad_evals = 0, math.inf, 0
    if ckpt is not None:
        model.load_state_dict(ckpt.model)
        optimizer.load_state_dict(ckpt.optimizer)
        schedule.load_state_dict(ckpt.meta["scheduler"])
        torch.set_rng_state(ckpt.rng["torch"])
        generator.set_state(ckpt.rng["data"])
        start_iter, best_val, bad_evals = (
            ckpt.meta["iter"],
            ckpt.meta["best_val_loss"],
            ckpt.meta["bad_evals"],
        )
    log = MetricsLog(
        out / "metrics.jsonl" if out is not None and main else None, start_iter if ckpt else None
    )

    forward_model = model
    if dist_info.enabled:
        forward_model = torch.nn.parallel.DistributedDataParallel(model)
    if cfg.compile:
        forward_model = torch.compile(forward_model)

    def save(iters):
        if out is not None and main:
            rng = {"torch": torch.get_rng_state(), "data": generator.get_state()}
            save_checkpoint(
                out,
                model_state=model.state_dict(),
                optimizer_state=optimizer.state_dict(),
                rng=rng,
                meta=meta(iters, best_val, bad_evals),
            )

    tokens_per_iter = cfg.batch_size * cfg.block_size * cfg.grad_accum * dist_info.world
    bar = tqdm(total=cfg.max_iters, initial=start_iter, disable=not (cfg.progress and main), unit="it")
    model.train()
    loss_value, val, stopped_early, iters = math.nan, math.nan, False, start_iter
    timed_tokens, timed_seconds, evals, first_step_s = 0, 0.0, [], 0.0
    for it in range(start_iter, cfg.max_iters):
        t0 = time.perf_counter()
        lr = schedule.apply(optimizer)
        loss_sum = torch.zeros(())
        for micro in range(cfg.grad_accum):
            x, y = train_batches.sample(generator)
            last = micro == cfg.grad_accum - 1
            # DDP all-reduces gradients only on the last micro-batch; earlier ones accumulate locally.
            sync = contextlib.nullcontext() if last or not dist_info.enabled else forward_model.no_sync()
            with sync:
                with autocast():
                    loss = lm_loss(forward_model, x, y) / cfg.grad_accum
                loss.backward()
            loss_sum += loss.detach().float()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        iters = it + 1
        dt = time.perf_counter() - t0
        if it > start_iter:  # the first step pays for warm-up (and compilation)
            timed_tokens, timed_seconds = timed_tokens + tokens_per_iter, timed_seconds + dt
        else:
            first_step_s = dt
        if iters % cfg.log_interval == 0 or iters == cfg.max_iters:
            loss_value = distributed.mean_across_ranks(loss_sum, dist_info).item()
            log.write(iter=iters, loss=loss_value, lr=lr, tokens_per_s=tokens_per_iter / dt)
            bar.set_postfix(loss=f"{loss_value:.4f}", tok_s=f"{tokens_per_iter / dt:,.0f}")
        bar.update(1)
        if iters % cfg.eval_interval == 0 or iters == cfg.max_iters:
            val = evaluate(val_batches)
            elapsed = time.perf_counter() - start_time
            evals.append({"iter": iters, "val_loss": val, "elapsed_s": elapsed})
            log.write(iter=iters, train_loss=evaluate(train_batches), val_loss=val, elapsed_s=elapsed)
            if val < best_val:
                best_val, bad_evals = val, 0
            else:
                bad_evals += 1
            stopped_early = cfg.patience > 0 and bad_evals >= cfg.patience
            save(iters)
            if stopped_early:
                break
        elif cfg.ckpt_interval and iters % cfg.ckpt_interval == 0:
            save(iters)
    bar.close()
    if out is not None and main:
        plot_losses(out / "metrics.jsonl", out / "loss.png", title=f"{cfg.model} on {cfg.dataset}")
    wall = time.perf_counter() - start_time
    return TrainResult(
        out,
        iters,
        loss_value,
        val,
        best_val,
        stopped_early,
        wall,
        timed_tokens / timed_seconds if timed_seconds else 0.0,
        count_params(model),
        evals,
        first_step_s,
    )
