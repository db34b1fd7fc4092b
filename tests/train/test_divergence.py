"""A run that goes non-finite (issue 14.2): it stops with one line naming the iteration and the likely
cause, never replaces a finite checkpoint, and its metrics stay strict JSON; `skip_nonfinite` skips
such steps instead and counts them."""

from __future__ import annotations

import json

import pytest
import torch

from groundup.cli import main
from groundup.train import trainer
from groundup.train.checkpoint import PREV_NAME, load_checkpoint
from groundup.train.config import make_config
from groundup.train.trainer import DivergedError, train

pytestmark = pytest.mark.module("0.8")


def strict_rows(path) -> list[dict]:
    """metrics.jsonl parsed by a reader that refuses NaN/Infinity, as strict JSON readers do."""

    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


def all_finite(ckpt) -> bool:
    return all(torch.isfinite(t).all() for t in ckpt.model.values())


def test_diverging_run_stops_with_one_line_and_keeps_both_finite_checkpoints(tmp_path, corpus_file, capsys):
    """The issue's repro: --lr 1e6 --grad-clip 0, resumed on a healthy run with two checkpoints."""
    out = tmp_path / "run"
    common = ["train", "gpt", "--preset", "tiny", "--out", str(out), f"--data-path={corpus_file}"]
    common += [
        "--progress=false",
        "--threads=1",
        "--report-chars=0",
        "--eval-interval=3",
        "--ckpt-interval=3",
    ]
    assert main([*common, "--max-iters=6"]) == 0
    capsys.readouterr()
    assert main([*common, "--max-iters=40", "--lr=1e6", "--grad-clip=0", "--resume"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "training diverged at iteration" in err and "learning rate 1e+06" in err and "--grad-clip 0" in err
    ckpt, prev = load_checkpoint(out), load_checkpoint(out / PREV_NAME)
    assert (ckpt.meta["iter"], prev.meta["iter"]) == (6, 3)
    assert all_finite(ckpt) and all_finite(prev)
    rows = strict_rows(out / "metrics.jsonl")
    assert any(r.get("loss", 0) is None for r in rows)  # the diverged step, as null


def poison_steps(monkeypatch, steps: set[int]) -> None:
    """Make the training loss NaN on the given (1-based) optimizer steps; evaluation stays untouched."""
    calls = {"n": 0}
    real = trainer.lm_loss

    def lm_loss(model, x, y):
        loss = real(model, x, y)
        if torch.is_grad_enabled():
            calls["n"] += 1
            if calls["n"] in steps:
                return loss * float("nan")
        return loss

    monkeypatch.setattr(trainer, "lm_loss", lm_loss)


def test_skip_nonfinite_skips_and_counts_the_steps(tmp_path, tiny_overrides, monkeypatch):
    poison_steps(monkeypatch, {3, 4})
    cfg = make_config("tiny", **tiny_overrides(max_iters=6, eval_interval=6, skip_nonfinite=True))
    result = train(cfg, tmp_path)
    assert result.iters == 6 and result.skipped_steps == 2
    rows = strict_rows(tmp_path / "metrics.jsonl")
    steps = {r["iter"]: r for r in rows if "loss" in r}
    assert steps[3]["loss"] is None and steps[4]["loss"] is None and steps[6]["skipped_steps"] == 2
    assert all_finite(load_checkpoint(tmp_path)) and load_checkpoint(tmp_path).meta["skipped_steps"] == 2


def test_without_skipping_the_first_nonfinite_step_stops_the_run(tmp_path, tiny_overrides, monkeypatch):
    poison_steps(monkeypatch, {5})
    cfg = make_config("tiny", **tiny_overrides(max_iters=8, eval_interval=2))
    with pytest.raises(DivergedError, match=r"iteration 5: the loss is nan.*checkpoint \(iteration 4\)"):
        train(cfg, tmp_path)
    assert load_checkpoint(tmp_path).meta["iter"] == 4
    assert load_checkpoint(tmp_path / PREV_NAME).meta["iter"] == 2


def test_a_checkpoint_is_never_written_from_nonfinite_weights(tmp_path, tiny_overrides, monkeypatch):
    real_step = trainer.Run.step

    def step(self):
        out = real_step(self)
        if self.iters == 3:  # weights that went bad without a non-finite loss being seen first
            with torch.no_grad():
                next(self.model.parameters()).fill_(float("inf"))
        return out

    monkeypatch.setattr(trainer.Run, "step", step)
    cfg = make_config("tiny", **tiny_overrides(max_iters=8, eval_interval=100, ckpt_interval=3))
    with pytest.raises(DivergedError, match="weights hold inf/NaN.*No checkpoint was written"):
        train(cfg, tmp_path)
    assert not (tmp_path / "ckpt.safetensors").exists()


def test_bare_boolean_flag_and_config_ranges():
    from groundup.train.config import parse_overrides

    assert parse_overrides(["--skip-nonfinite", "--lr=1e-3"]) == {"skip_nonfinite": True, "lr": 1e-3}
    assert parse_overrides(["--skip-nonfinite"]) == {"skip_nonfinite": True}
    for bad in (["--lr=nan"], ["--lr", "-1"], ["--dropout=1"], ["--max-iters=0"], ["--n-embd", "0"]):
        with pytest.raises(ValueError, match=bad[0].split("=")[0]):
            parse_overrides(bad)
