"""FSDP (0.8): two torchrun processes with sharded weights, gradients and AdamW moments, batch b each,
follow the loss trajectory of one unsharded process with batch 2b (gloo on CPU), and the gathered
weights are equal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from groundup.train import distributed
from groundup.train.config import make_config
from groundup.train.fsdp import full_state_dict, train_fsdp

pytestmark = pytest.mark.module("0.8")

ROOT = Path(__file__).resolve().parents[2]


def test_two_sharded_ranks_equal_one_process_with_the_global_batch(tmp_path, corpus_file):
    overrides = dict(data_path=str(corpus_file), max_iters=6, threads=1, progress=False)
    cfg = make_config("tiny", batch_size=8, **overrides)
    single_losses, model = train_fsdp(cfg, corpus_file.read_text(), distributed.DistInfo())
    single_state = full_state_dict(model, distributed.DistInfo())

    out = tmp_path / "fsdp"
    cli = [f"--{k.replace('_', '-')}={v}" for k, v in {**overrides, "batch_size": 4}.items()]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "groundup.train.fsdp",
            "--preset",
            "tiny",
            "--out",
            str(out),
            *cli,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    sharded = json.loads((out / "losses.json").read_text())
    assert sharded["world"] == 2
    assert sharded["losses"] == pytest.approx(single_losses, rel=1e-5, abs=1e-6)
    gathered = load_file(str(out / "model.safetensors"))
    assert set(gathered) == set(single_state)
    for name, value in single_state.items():
        torch.testing.assert_close(gathered[name], value, atol=1e-5, rtol=1e-4)
