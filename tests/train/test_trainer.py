"""The training loop (0.8, 0.7): every ladder model trains through it, outputs and bad input."""

from __future__ import annotations

import json
import math

import pytest
import torch

from groundup.errors import GroundupError
from groundup.tokenizers.char import CharTokenizer
from groundup.train.config import MODELS, make_config
from groundup.train.data import Batcher
from groundup.train.trainer import train

pytestmark = pytest.mark.module("0.8")


@pytest.mark.module("0.4")
@pytest.mark.parametrize("model", MODELS)
def test_every_ladder_model_learns_through_the_same_trainer(model, tmp_path, tiny_overrides):
    """A 30-step run lowers the validation loss at least 0.5 nats below the uniform guess ln(vocab)."""
    lr = 1e-2 if model == "gpt" else 3e-2  # the small ladder nets tolerate (and need) a larger step
    cfg = make_config("tiny", **tiny_overrides(model=model, max_iters=30, lr=lr, eval_interval=30))
    result = train(cfg, tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    vocab = len(CharTokenizer.from_text(open(cfg.data_path).read()).chars)
    assert result.val_loss < math.log(vocab) - 0.5, (model, result.val_loss)
    assert rows[-1]["val_loss"] == pytest.approx(result.val_loss)


def test_run_writes_metrics_plot_and_checkpoint(tmp_path, tiny_overrides):
    result = train(make_config("tiny", **tiny_overrides(max_iters=10, eval_interval=5)), tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in rows if "loss" in r] == list(range(1, 11))
    assert [r["iter"] for r in rows if "val_loss" in r] == [5, 10]
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "ckpt.safetensors").is_file() and result.iters == 10


def test_early_stopping_stops_after_patience_evaluations_without_improvement(tmp_path, tiny_overrides):
    # a zero learning rate never improves, so the second evaluation stops the run
    cfg = make_config("tiny", **tiny_overrides(max_iters=40, eval_interval=2, patience=1, lr=0.0, min_lr=0.0))
    result = train(cfg, tmp_path)
    assert result.stopped_early and result.iters == 4


def test_bf16_autocast_trains_close_to_fp32(tmp_path, tiny_overrides):
    fp32 = train(make_config("tiny", **tiny_overrides(max_iters=10, eval_interval=10)), tmp_path / "a")
    bf16 = train(
        make_config("tiny", **tiny_overrides(max_iters=10, eval_interval=10, dtype="bfloat16")),
        tmp_path / "b",
    )
    assert bf16.val_loss == pytest.approx(fp32.val_loss, abs=0.05)


def test_dataset_shorter_than_one_block_is_a_clear_error(tmp_path, tiny_overrides):
    short = tmp_path / "short.txt"
    short.write_text("To be, or not to be: that is the question.")
    with pytest.raises(GroundupError, match="fewer than one block of 16"):
        train(make_config("tiny", **{**tiny_overrides(), "data_path": str(short)}), tmp_path / "run")
    with pytest.raises(GroundupError, match="fewer than one block"):
        Batcher(torch.arange(10), block_size=10, batch_size=2)


def test_batches_are_next_token_shifted_and_split_by_rank():
    tokens = torch.arange(100)
    one = Batcher(tokens, 8, 4, rank=0, world=1).sample(torch.Generator().manual_seed(0))
    halves = [Batcher(tokens, 8, 2, rank=r, world=2).sample(torch.Generator().manual_seed(0)) for r in (0, 1)]
    x, y = one
    assert torch.equal(y, x + 1)
    assert torch.equal(torch.cat([h[0] for h in halves]), x)
