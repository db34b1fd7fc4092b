"""Capstone 1.3b: distil a wide teacher (LeNet-5 at twice the width) into a small MLP student on MNIST.

The student (784-32-10) is trained twice for the same epochs from the same initialisation: on the
labels alone, and on the distillation loss (soft teacher targets at temperature T plus labels).
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from groundup.compress.distill import distillation_loss
from groundup.compress.lora import count_parameters
from groundup.models.cnn import LeNet5, mlp_classifier
from groundup.reports import markdown_table, plot_bars, write_report
from groundup.train.tasks import accuracy, cached_classifier, load_mnist, train_classifier


def main(
    out: Path,
    epochs: int = 20,
    teacher_epochs: int = 4,
    temperature: float = 2.0,
    alpha: float = 0.5,
    seed: int = 0,
) -> Path:
    torch.manual_seed(seed)
    data = load_mnist()
    teacher = cached_classifier("teacher_lenet5x2", lambda: LeNet5(width=2), data, teacher_epochs, seed)
    torch.manual_seed(seed + 1)
    init = mlp_classifier((32,))
    alone = train_classifier(copy.deepcopy(init), data.x_train, data.y_train, epochs=epochs, seed=seed)

    # The teacher is fixed, so its logits are computed once; each target row carries (label, logits...).
    with torch.no_grad():
        teacher_logits = torch.cat([teacher(xb) for xb in data.x_train.split(500)])  # (N, 10)
    targets = torch.cat([data.y_train[:, None].float(), teacher_logits], dim=1)  # (N, 11)

    def kd_loss(model, xb, tb):
        return distillation_loss(model(xb), tb[:, 1:], tb[:, 0].long(), temperature, alpha)

    distilled = train_classifier(
        copy.deepcopy(init), data.x_train, targets, epochs=epochs, seed=seed, loss_fn=kd_loss
    )
    rows = [
        [name, count_parameters(m)[1], accuracy(m, data.x_test, data.y_test)]
        for name, m in (
            ("teacher LeNet-5 ×2 width", teacher),
            ("student alone 784-32-10", alone),
            ("student distilled", distilled),
        )
    ]
    out.mkdir(parents=True, exist_ok=True)
    figure = plot_bars(
        out / "distill.png",
        [f"{r[0]}\n({r[1]:,} params)" for r in rows],
        {"test accuracy": [r[2] for r in rows]},
        "test accuracy",
        f"Distillation at T = {temperature}, α = {alpha}",
    )
    sections = [
        f"Teacher: {teacher_epochs} epochs; students: {epochs} epochs each, on 4,000 MNIST digits (test: 1,000). Distillation loss: α·T²·KL(teacher‖student) "
        f"+ (1-α)·CE with T = {temperature}, α = {alpha}; both students start from the same weights.",
        markdown_table(["model", "parameters", "test accuracy"], rows),
        f"![distillation]({figure.name})",
    ]
    return write_report(out / "report.md", "Capstone 1.3: knowledge distillation on MNIST", sections)
