"""Vision: ResNet-18 training throughput and peak memory at 32x32, ours vs torchvision's model (same
weights, same batch), and groundup.grad's NumPy conv net step vs torch (the LeNet-style step of
bench_grad), all on one thread.

torchvision comes from the test reference folder (`tests/vision/tvref.py`: the CUDA wheel's pure-Python
models without its C++ extension); without it the ResNet row is skipped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

from benchmarks.bench_grad import step_fns
from benchmarks.harness import Report
from groundup.grad.demos.training import load_mnist
from groundup.models.cnn import ResNet


def resnet_steps(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def run():
        model.train()
        for _ in range(steps):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    return run


def run(report: Report, quick: bool) -> None:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    report.env["threads"] = 1
    try:
        with threadpool_limits(1):
            batch, steps = (16, 1) if quick else (64, 3)
            try:
                from tests.vision.tvref import _import

                tv = _import()
            except ImportError:
                tv = None
            if tv is not None:
                ours = ResNet(18, 10)
                theirs = tv.models.resnet18(num_classes=10)
                theirs.load_state_dict(ours.state_dict())
                gen = torch.Generator().manual_seed(0)
                x, y = (
                    torch.randn(batch, 3, 32, 32, generator=gen),
                    torch.randint(10, (batch,), generator=gen),
                )
                row = report.compare(
                    f"resnet18 train step 32x32, batch {batch}",
                    resnet_steps(ours, x, y, steps),
                    resnet_steps(theirs, x, y, steps),
                    peer_name="torchvision resnet18",
                    work=batch * steps,
                    unit="images",
                    repeats=3 if quick else 5,
                )
                row["ratio_ours_over_peer"] = row["ours_median_s"] / row["peer_median_s"]
            data = load_mnist()
            ours_step, torch_step = step_fns("cnn", data.x_train[:128], data.y_train[:128], 2 if quick else 5)
            row = report.compare(
                "grad conv net step (NumPy) vs torch, batch 128",
                ours_step,
                torch_step,
                peer_name="torch CPU",
                work=128 * (2 if quick else 5),
                unit="samples",
                repeats=3 if quick else 5,
            )
            row["ratio_ours_over_torch"] = row["ours_median_s"] / row["peer_median_s"]
    finally:
        torch.set_num_threads(previous)
