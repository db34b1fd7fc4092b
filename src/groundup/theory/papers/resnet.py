"""Deep Residual Learning (He et al. 2015): the degradation problem, at reduced scale.

The paper's observation: a deeper plain network (stacked conv-BN-ReLU) has *higher training* error
than a shallower one (CIFAR-10: plain-56 above plain-20), which is not overfitting but optimization
difficulty, while with identity shortcuts the deeper network is at least as good (ResNet-56 below
ResNet-20). Here: the CIFAR-style networks of `models.cnn.CifarResNet` (8/16/32 channels) on MNIST 5k at
14 x 14, SGD with momentum 0.9 and the paper's lr 0.1, a few epochs.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from groundup.models.cnn import CifarResNet


def train_sgd(model, x, y, epochs: int, seed: int, lr: float = 0.1, batch: int = 128) -> list[float]:
    """SGD (momentum 0.9, weight decay 1e-4), lr divided by 10 for the last third of the epochs;
    returns the training error of each epoch (counted on the fly, as the paper's curves)."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    errors = []
    for epoch in range(epochs):
        if epoch == max(1, (2 * epochs) // 3):
            for group in opt.param_groups:
                group["lr"] = lr / 10
        model.train()
        wrong = 0
        for idx in torch.randperm(len(x), generator=g).split(batch):
            logits = model(x[idx])
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            wrong += int((logits.argmax(1) != y[idx]).sum())
        errors.append(wrong / len(x))
    return errors


def resnet_study(out: Path, epochs: int = 3, seed: int = 0, depths=(20, 56)) -> Path:
    from groundup.reports import figure, markdown_table, write_report
    from groundup.theory.study import evaluate, mnist

    x, y, xt, yt = mnist(downsample=True)
    rows, curves = [], {}
    for residual in (False, True):
        for depth in depths:
            torch.manual_seed(seed)
            model = CifarResNet(depth, width=0.5, residual=residual)
            name = f"{'ResNet' if residual else 'plain'}-{depth}"
            curves[name] = train_sgd(model, x, y, epochs, seed)
            train_loss, train_err = evaluate(model, x, y)
            rows.append([name, curves[name][-1], train_err, evaluate(model, xt, yt)[1]])
    with figure(out / "degradation.png") as (fig, ax):
        for name, errs in curves.items():
            ax.plot(
                range(1, epochs + 1),
                errs,
                ls="--" if name.startswith("plain") else "-",
                marker="o",
                label=name,
            )
        ax.set(
            xlabel="epoch",
            ylabel="training error (running)",
            yscale="log",
            title="plain vs residual, MNIST 14x14",
        )
        ax.legend()
    return write_report(
        out / "report.md",
        "Deep Residual Learning (He et al. 2015): the degradation problem",
        [
            f"CIFAR-style networks (6n+2 layers, 8/16/32 channels, BN) on MNIST 5k downsampled to 14 x 14, "
            f"SGD momentum 0.9, lr 0.1 (/10 for the last third), weight decay 1e-4, batch 128, {epochs} epochs, seed {seed}.",
            markdown_table(
                ["network", "running train error (last epoch)", "train error (eval)", "test error"], rows
            ),
            "![degradation](degradation.png)",
        ],
    )
