"""groundup.grad training step (MLP batch 128, small CNN) vs PyTorch CPU, both on one thread.

Same architecture, same weights (ours copied into torch), same batch, Adam. BLAS and torch are both
limited to one thread: on this shared 2-core machine OpenBLAS with two threads is up to 40x slower
under load, and the issue asks for equal threads. Peak memory: the harness's extra RSS during the timed
steps for both, plus tracemalloc's peak of our NumPy buffers (the activations and gradients of a step).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from benchmarks.harness import Report
from examples.grad.mnist_vs_torch import torch_twin
from groundup.grad import Tensor, losses, optim
from groundup.grad.demos.training import cnn, load_mnist, mlp


def step_fns(kind: str, x: np.ndarray, y: np.ndarray, steps: int):
    ours = mlp() if kind == "mlp" else cnn()
    theirs = torch_twin(kind, ours)
    opt, topt = optim.Adam(ours.parameters(), lr=1e-3), torch.optim.Adam(theirs.parameters(), lr=1e-3)
    tx, ty = torch.tensor(x), torch.tensor(y)

    def run_ours():
        for _ in range(steps):
            loss = losses.cross_entropy(ours(Tensor(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    def run_torch():
        for _ in range(steps):
            loss = torch.nn.functional.cross_entropy(theirs(tx), ty)
            topt.zero_grad()
            loss.backward()
            topt.step()

    return run_ours, run_torch


def numpy_peak_mb(fn) -> float:
    """Peak NumPy allocation during `fn` (tracemalloc sees NumPy buffers; RSS deltas miss reused memory)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def run(report: Report, quick: bool) -> None:
    data = load_mnist()
    x, y = data.x_train[:128], data.y_train[:128]
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    report.env["threads"] = 1
    try:
        with threadpool_limits(1):
            for kind, steps in (("mlp", 10 if quick else 30), ("cnn", 2 if quick else 5)):
                ours, theirs = step_fns(kind, x, y, steps)
                row = report.compare(
                    f"{kind} train step, batch 128",
                    ours,
                    theirs,
                    peer_name="torch CPU",
                    work=128 * steps,
                    unit="samples",
                    repeats=3 if quick else 5,
                )
                row["ratio_ours_over_torch"] = row["ours_median_s"] / row["peer_median_s"]
                row["ours_ms_per_step"] = 1e3 * row["ours_median_s"] / steps
                row["peer_ms_per_step"] = 1e3 * row["peer_median_s"] / steps
                row["ours_step_alloc_peak_mb"] = numpy_peak_mb(ours)
    finally:
        torch.set_num_threads(previous)
