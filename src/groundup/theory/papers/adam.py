"""Adam (Kingma & Ba 2014): the optimizer with its bias correction switchable, and the paper's MNIST
experiments at small scale.

    m_t = b1 m_{t-1} + (1 - b1) g_t          v_t = b2 v_{t-1} + (1 - b2) g_t^2
    m^_t = m_t / (1 - b1^t)                  v^_t = v_t / (1 - b2^t)          (bias correction)
    theta_t = theta_{t-1} - lr m^_t / (sqrt(v^_t) + eps)

m and v start at zero, so early on they are biased towards zero: without the correction the first
step is lr (1 - b1) / sqrt(1 - b2) in size instead of lr, 10x too large for b1 = 0.9, b2 = 0.9999,
which is the instability section 6.4 of the paper shows (their VAE; our MNIST MLP).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class Adam(torch.optim.Optimizer):
    """Adam with `bias_correction` switchable (True: torch.optim.Adam's update exactly)."""

    def __init__(
        self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, bias_correction: bool = True
    ):
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, bias_correction=bias_correction))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state.update(t=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                state["t"] += 1
                t, m, v = state["t"], state["m"], state["v"]
                m.mul_(b1).add_(p.grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                if group["bias_correction"]:
                    step = group["lr"] / (1 - b1**t)
                    denom = (v / (1 - b2**t)).sqrt_().add_(group["eps"])
                else:
                    step, denom = group["lr"], v.sqrt().add_(group["eps"])
                p.addcdiv_(m, denom, value=-step)
        return loss


def make_optimizer(name: str, params, lr: float, **kwargs) -> torch.optim.Optimizer:
    if name == "Adam":
        return Adam(params, lr, **kwargs)
    if name == "SGD+Nesterov":
        return torch.optim.SGD(params, lr, momentum=0.9, nesterov=True)
    if name == "AdaGrad":
        return torch.optim.Adagrad(params, lr)
    if name == "RMSProp":
        return torch.optim.RMSprop(params, lr, alpha=0.99)
    raise ValueError(f"optimizer must be Adam, SGD+Nesterov, AdaGrad or RMSProp, got {name!r}")


def run(model, opt, x, y, epochs: int, seed: int, batch: int = 128, record_every: int = 0):
    """Minibatch training; returns the full-training-set cost after each epoch (and every
    `record_every` steps in the first epoch, to show the start)."""
    g = torch.Generator().manual_seed(seed)
    costs, early = [], []

    def cost():
        with torch.no_grad():
            return float(F.cross_entropy(model(x), y))

    for epoch in range(epochs):
        for i, idx in enumerate(torch.randperm(len(x), generator=g).split(batch)):
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if epoch == 0 and record_every and i % record_every == 0:
                early.append(cost())
        costs.append(cost())
    return costs, early


LRS = {"Adam": 1e-3, "SGD+Nesterov": 0.05, "AdaGrad": 0.01, "RMSProp": 1e-3}


def build(kind: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    if kind == "logistic":
        return nn.Linear(784, 10)
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))


def adam_study(out: Path, epochs: int = 5, seed: int = 0) -> Path:
    """Optimizer curves for logistic regression and an MLP on MNIST 5k, and the bias-correction ablation."""
    from groundup.reports import figure, markdown_table, write_report
    from groundup.theory.study import mnist

    x, y, _, _ = mnist()
    x = x.flatten(1)
    curves, rows = {}, []
    for kind in ("logistic", "mlp"):
        for name, lr in LRS.items():
            model = build(kind, seed)
            costs, _ = run(model, make_optimizer(name, model.parameters(), lr), x, y, epochs, seed)
            curves[(kind, name)] = costs
        rank = sorted(LRS, key=lambda n: curves[(kind, n)][-1])
        rows += [
            [kind, n, LRS[n], curves[(kind, n)][0], curves[(kind, n)][-1], rank.index(n) + 1] for n in LRS
        ]
    ablation, early_curves = [], {}
    for beta2 in (0.99, 0.999, 0.9999):
        for lr in (1e-3, 1e-2):
            row = [beta2, lr]
            for corrected in (True, False):
                model = build("mlp", seed)
                opt = Adam(model.parameters(), lr, betas=(0.9, beta2), bias_correction=corrected)
                costs, early = run(model, opt, x, y, 2, seed, record_every=3)
                row += [max(early), costs[-1]]
                if lr == 1e-2:
                    early_curves[(beta2, corrected)] = early
            ablation.append(row)
    with figure(out / "adam_curves.png", ncols=2, figsize=(10, 4)) as (fig, axes):
        for ax, kind in zip(axes, ("logistic", "mlp"), strict=True):
            for name in LRS:
                ax.plot(range(1, epochs + 1), curves[(kind, name)], marker=".", label=name)
            ax.set(yscale="log", xlabel="epoch", ylabel="training cost", title=f"MNIST 5k, {kind}")
            ax.legend()
    with figure(out / "bias_correction.png") as (fig, ax):
        for (beta2, corrected), early in early_curves.items():
            ax.plot(
                [3 * i for i in range(len(early))],
                early,
                ls="-" if corrected else "--",
                label=f"b2={beta2}, {'with' if corrected else 'without'} correction",
            )
        ax.set(
            yscale="log",
            xlabel="step (first epoch)",
            ylabel="training cost",
            title="MLP, lr 1e-2: the first steps",
        )
        ax.legend(fontsize=7)
    return write_report(
        out / "report.md",
        "Adam (Kingma & Ba 2014) on MNIST",
        [
            f"MNIST 5k (4,000 training images), minibatch 128, {epochs} epochs, full-training-set cross-entropy. "
            "Logistic regression (784-10) and an MLP (784-128-128-10, ReLU, no dropout; the paper's has 1000 "
            "units and dropout). Learning rates: "
            + ", ".join(f"{k} {v:g}" for k, v in LRS.items())
            + " (one sensible value each, not the paper's grid search).",
            markdown_table(
                ["model", "optimizer", "lr", "cost after epoch 1", f"cost after epoch {epochs}", "rank"], rows
            ),
            "Bias-correction ablation on the MLP (b1 = 0.9; 2 epochs): the worst cost seen in the first epoch "
            "(sampled every 3 steps) and the cost after 2 epochs, with and without the correction.",
            markdown_table(
                [
                    "b2",
                    "lr",
                    "worst early (corrected)",
                    "after 2 ep (corrected)",
                    "worst early (uncorrected)",
                    "after 2 ep (uncorrected)",
                ],
                ablation,
            ),
            "![curves](adam_curves.png)\n\n![bias correction](bias_correction.png)",
        ],
    )


def first_step_ratio(beta1: float, beta2: float) -> float:
    """Size of the uncorrected first step relative to the corrected one: (1 - b1) / sqrt(1 - b2)."""
    return (1 - beta1) / math.sqrt(1 - beta2)
