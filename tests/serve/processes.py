"""`groundup serve` as a real process over a one-step GPT run, for the tests that need the command
itself (signals, ports, replicas behind the router)."""

from __future__ import annotations

import time

GPT_TEXT = "the cat sat on the mat. the dog sat on the log. a cat and a dog met on a mat by a log.\n" * 300


def train_tiny_gpt(out, block_size: int):
    """A GPT run directory after one training step (1 layer, 16 wide) on GPT_TEXT: a model to serve."""
    from groundup.train.config import TrainConfig
    from groundup.train.trainer import train

    cfg = TrainConfig(
        n_layer=1,
        n_head=2,
        n_embd=16,
        block_size=block_size,
        batch_size=1,
        max_iters=1,
        warmup_iters=0,
        lr_decay_iters=1,
        eval_interval=1,
        eval_iters=1,
        progress=False,
        threads=1,
    )
    train(cfg, out, text=GPT_TEXT)
    return out


def start_serve_process(run_dir, *flags: str, timeout: float = 120):
    """(Popen, base URL) of `groundup serve --model RUN_DIR --port 0 --threads 1 FLAGS...`, once its
    /health answers; the URL is read from the line it prints when it has bound its port."""
    import os
    import re
    import subprocess
    import sys

    import httpx

    cmd = [
        sys.executable,
        "-m",
        "groundup",
        "serve",
        "--model",
        str(run_dir),
        "--port",
        "0",
        "--threads",
        "1",
    ]
    proc = subprocess.Popen(
        [*cmd, *flags], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ}
    )
    line = proc.stdout.readline()  # "serving 'NAME' on http://HOST:PORT/v1 ..."
    match = re.search(r"(http://[\d.]+:\d+)/v1", line)
    assert match, line + proc.stdout.read()
    url = match.group(1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url + "/health", timeout=5)
            return proc, url
        except httpx.TransportError:
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
