"""Checkpoints (0.8): exact round trip, kill-and-resume bit-identical to an uninterrupted run, refusal
of a different architecture, and a corrupt checkpoint refused with the previous good one kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from groundup.train.checkpoint import PREV_NAME, CheckpointError, load_checkpoint, save_checkpoint
from groundup.train.config import make_config
from groundup.train.trainer import train

pytestmark = pytest.mark.module("0.8")

ROOT = Path(__file__).resolve().parents[2]


def metric_rows(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [
        {k: v for k, v in r.items() if k not in ("tokens_per_s", "elapsed_s")} for r in rows
    ]  # not timings


def test_save_load_round_trip_is_exact(tmp_path):
    model = torch.nn.Linear(3, 4)
    opt = torch.optim.AdamW(model.parameters())
    model(torch.randn(2, 3)).sum().backward()
    opt.step()
    rng = {"torch": torch.get_rng_state()}
    save_checkpoint(
        tmp_path, model_state=model.state_dict(), optimizer_state=opt.state_dict(), rng=rng, meta={"x": 1}
    )
    ckpt = load_checkpoint(tmp_path)
    for k, v in model.state_dict().items():
        assert torch.equal(ckpt.model[k], v)
    restored = torch.optim.AdamW(torch.nn.Linear(3, 4).parameters())
    restored.load_state_dict(ckpt.optimizer)
    for a, b in zip(opt.state_dict()["state"].values(), restored.state_dict()["state"].values()):
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(ckpt.rng["torch"], rng["torch"]) and ckpt.meta == {"x": 1}


def test_killed_run_resumes_bit_identically(tmp_path, tiny_overrides):
    """SIGKILL a training process mid-way, resume it, and compare every logged loss with an
    uninterrupted run: equal to the last bit (dropout on, so the RNG state matters too)."""
    overrides = tiny_overrides(max_iters=90, lr_decay_iters=90, dropout=0.1, ckpt_interval=7)
    whole = tmp_path / "whole"
    train(make_config("tiny", **overrides), whole)

    killed = tmp_path / "killed"
    cli = [f"--{k}={v}" for k, v in overrides.items()]
    proc = subprocess.Popen(
        [sys.executable, "-m", "groundup", "train", "gpt", "--preset", "tiny", "--out", str(killed), *cli],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    metrics = killed / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:  # kill once a few checkpoints exist
        if metrics.exists() and any(
            json.loads(x)["iter"] >= 35 for x in metrics.read_text().splitlines()[-2:]
        ):
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, (
        f"the run was not killed mid-way: {proc.stderr.read().decode()}"
    )
    resumed_from = load_checkpoint(killed).meta["iter"]
    assert 0 < resumed_from < 90

    train(make_config("tiny", **overrides), killed, resume=True)
    assert metric_rows(killed) == metric_rows(whole)


def test_resume_refuses_a_different_architecture(tmp_path, tiny_overrides):
    overrides = tiny_overrides(max_iters=3, eval_interval=3)
    train(make_config("tiny", **overrides), tmp_path)
    changed = make_config("tiny", **{**overrides, "n_embd": 48, "norm": "post", "max_iters": 6})
    with pytest.raises(CheckpointError, match=r"n_embd: 32 -> 48; norm: 'pre' -> 'post'"):
        train(changed, tmp_path, resume=True)


def test_corrupt_checkpoint_is_refused_and_the_previous_good_one_kept(tmp_path, tiny_overrides):
    overrides = tiny_overrides(max_iters=6, eval_interval=3, ckpt_interval=3)
    train(make_config("tiny", **overrides), tmp_path)
    ckpt, prev = tmp_path / "ckpt.safetensors", tmp_path / PREV_NAME
    assert load_checkpoint(prev).meta["iter"] == 3 and load_checkpoint(ckpt).meta["iter"] == 6
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])  # a torn write, as a crash without the atomic rename leaves
    with pytest.raises(CheckpointError, match="corrupt or partial.*previous good checkpoint is kept"):
        train(make_config("tiny", **overrides), tmp_path, resume=True)
    assert load_checkpoint(prev).meta["iter"] == 3
    # resuming from the kept checkpoint works and reaches the same end as the original run
    os.replace(prev, ckpt)
    result = train(make_config("tiny", **overrides), tmp_path, resume=True)
    assert result.iters == 6


def test_missing_checkpoint_says_how_to_make_one(tmp_path, tiny_overrides):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        train(make_config("tiny", **tiny_overrides()), tmp_path, resume=True)
