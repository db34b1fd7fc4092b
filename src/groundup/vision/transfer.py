"""Transfer learning and model surgery (curriculum 3.3, and 0.8's freezing/replacing exercise).

Pretrain the lab CNN on digits 0-4; then learn digits 5-9 three ways, for several labelled-data
budgets (examples per class):
- frozen: keep the pretrained feature extractor fixed (requires_grad False, BatchNorm in eval mode)
  and train only a new classifier head (the surgery: replace `fc` with a fresh Linear);
- fine-tune: start from the pretrained weights with a new head and train everything;
- scratch: a freshly initialised network trained the same way.
The sample-efficiency curve is test accuracy on 5-9 against examples per class.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from groundup.train.tasks import ImageSplits, accuracy
from groundup.vision.data import per_class, select_classes
from groundup.vision.lab import LabNet

STRATEGIES = ("frozen", "fine-tune", "scratch")


def train(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int, lr: float = 2e-3
) -> nn.Module:
    """Adam on the parameters that still require gradients; BatchNorm of frozen features stays in eval."""
    gen = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    frozen = not all(p.requires_grad for p in model.features.parameters())
    batch = min(64, len(x))
    for _ in range(epochs):
        model.train()
        if frozen:
            model.features.eval()
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def adapt(pretrained: LabNet, strategy: str, num_classes: int, seed: int) -> LabNet:
    """The network a strategy starts from: surgery on a copy of the pretrained model, or a new one."""
    torch.manual_seed(seed)
    if strategy == "scratch":
        return LabNet(num_classes=num_classes)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    model = copy.deepcopy(pretrained)
    model.fc = nn.Linear(model.fc.in_features, num_classes)  # replace the head
    if strategy == "frozen":
        for p in model.features.parameters():
            p.requires_grad_(False)
    return model


def run_transfer(
    data: ImageSplits,
    *,
    epochs: int = 3,
    seeds: int = 3,
    budgets: tuple[int, ...] = (5, 10, 25, 50, 100, 0),
    quick: bool = False,
) -> dict:
    """Accuracy on digits 5-9 per strategy and budget (0 = every training image), mean over seeds."""
    source, target = select_classes(data, range(5)), select_classes(data, range(5, 10))
    budgets = (5, 0) if quick else budgets
    torch.manual_seed(0)
    pretrained = train(LabNet(num_classes=5), source.x_train, source.y_train, epochs, seed=0)
    source_acc = accuracy(pretrained, source.x_test, source.y_test)
    curves: dict[str, dict[int, list[float]]] = {s: {b: [] for b in budgets} for s in STRATEGIES}
    sizes = {}
    for b in budgets:
        for seed in range(seeds):
            x, y = (
                (target.x_train, target.y_train)
                if b == 0
                else per_class(target.x_train, target.y_train, b, seed)
            )
            sizes[b] = len(y)
            steps_epochs = max(
                epochs, int(np.ceil(epochs * 2000 / max(len(y), 1) / 10))
            )  # small sets: more passes
            for s in STRATEGIES:
                model = train(adapt(pretrained, s, 5, seed), x, y, min(steps_epochs, 60), seed)
                curves[s][b].append(accuracy(model, target.x_test, target.y_test))
    return {"curves": curves, "sizes": sizes, "source_accuracy": source_acc, "seeds": seeds}


def write_report(out: str | Path, result: dict, budget: str) -> Path:
    from groundup.reports import figure, markdown_table, write_json, write_report

    out = Path(out)
    curves, sizes = result["curves"], result["sizes"]
    budgets = list(sizes)
    label = lambda b: "all" if b == 0 else str(b)  # noqa: E731
    rows = [
        [s] + [f"{np.mean(curves[s][b]):.3f} ± {np.std(curves[s][b]):.3f}" for b in budgets]
        for s in STRATEGIES
    ]
    with figure(out / "transfer.png") as (_, ax):
        xs = [sizes[b] / 5 for b in budgets]
        for s in STRATEGIES:
            ax.plot(xs, [np.mean(curves[s][b]) for b in budgets], marker="o", label=s)
        ax.set_xscale("log")
        ax.set(
            xlabel="labelled examples per class (digits 5-9)",
            ylabel="test accuracy",
            title="Sample efficiency",
        )
        ax.grid(alpha=0.3)
        ax.legend()
    write_json(out / "transfer.json", result)
    sections = [
        budget,
        f"Pretrained on digits 0-4 (test accuracy {result['source_accuracy']:.4f} on 0-4), then trained on digits "
        f"5-9 with k labelled examples per class; accuracy on the 5-9 test images, mean ± std over "
        f"{result['seeds']} seeds (seed = which examples, head initialisation, batch order).",
        markdown_table(["strategy"] + [f"k = {label(b)}" for b in budgets], rows),
        "![sample efficiency](transfer.png)",
    ]
    return write_report(
        out / "transfer.md", "Transfer learning: digits 0-4 -> 5-9 (curriculum 3.3)", sections
    )
