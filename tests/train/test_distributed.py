"""Data parallelism (0.8): two torchrun processes with batch b follow the same loss trajectory as one
process with batch 2b (gloo on CPU), gradient accumulation equals one big batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from groundup.train.config import make_config
from groundup.train.trainer import train

pytestmark = pytest.mark.module("0.8")

ROOT = Path(__file__).resolve().parents[2]


def losses(run_dir: Path, *, evals: bool = True) -> list[float]:
    """Logged training losses, then (with `evals`) the validation estimates."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r] + [
        r["val_loss"] for r in rows if evals and "val_loss" in r
    ]


def test_two_ranks_with_batch_b_equal_one_process_with_batch_2b(tmp_path, tiny_overrides):
    overrides = tiny_overrides(max_iters=8, lr_decay_iters=8, eval_interval=4)
    single = tmp_path / "single"
    train(make_config("tiny", **{**overrides, "batch_size": 8}), single)

    ddp = tmp_path / "ddp"
    cli = [f"--{k}={v}" for k, v in {**overrides, "batch_size": 4}.items()]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "groundup",
            "train",
            "gpt",
            "--preset",
            "tiny",
            "--out",
            str(ddp),
            *cli,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert losses(ddp) == pytest.approx(losses(single), rel=1e-5, abs=1e-6)


def test_gradient_accumulation_equals_one_big_batch(tmp_path, tiny_overrides):
    overrides = tiny_overrides(max_iters=6, lr_decay_iters=6, eval_interval=3)
    big = train(make_config("tiny", **{**overrides, "batch_size": 8}), tmp_path / "big")
    accumulated = train(
        make_config("tiny", **{**overrides, "batch_size": 2, "grad_accum": 4}), tmp_path / "acc"
    )
    # evaluation batches follow batch_size, so only the training losses are comparable here
    assert losses(tmp_path / "acc", evals=False) == pytest.approx(
        losses(tmp_path / "big", evals=False), rel=1e-5
    )
    assert accumulated.iters == big.iters == 6
