"""Train the MNIST MLP (or CNN) with groundup.grad and with PyTorch from the same initial weights,
the same batches (order and augmentation) and the same optimizer/schedule; report both loss curves,
their max |difference| and both test accuracies (markdown + PNG in --out).

    .venv/bin/python examples/grad/mnist_vs_torch.py --model mlp --epochs 25 --out grad-demo
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from groundup.grad import Tensor, losses, optim
from groundup.grad.demos.training import accuracy, batches, cnn, load_mnist, mlp
from groundup.reports import markdown_table, plot_curves, smooth, write_report


def torch_twin(kind: str, ours) -> torch.nn.Module:
    T = torch.nn
    if kind == "mlp":
        net = T.Sequential(
            T.Flatten(), T.Linear(784, 256), T.ReLU(), T.Linear(256, 128), T.ReLU(), T.Linear(128, 10)
        )
    else:
        net = T.Sequential(
            T.Conv2d(1, 16, 3, padding=1),
            T.ReLU(),
            T.MaxPool2d(2),
            T.Conv2d(16, 32, 3, padding=1),
            T.ReLU(),
            T.MaxPool2d(2),
            T.Flatten(),
            T.Linear(32 * 7 * 7, 10),
        )
    net.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return net


def main(kind: str, epochs: int, out: Path, seed: int = 0) -> dict:
    data = load_mnist()
    ours = mlp(seed=seed) if kind == "mlp" else cnn(seed=seed)
    theirs = torch_twin(kind, ours)
    lr = 1e-3 if kind == "mlp" else 3e-3  # the demo settings (groundup.grad.demos.mnist)
    opt, topt = optim.Adam(ours.parameters(), lr=lr), torch.optim.Adam(theirs.parameters(), lr=lr)
    total = epochs * -(-len(data.x_train) // 128)
    sched, tsched = (
        optim.CosineAnnealingLR(opt, total),
        torch.optim.lr_scheduler.CosineAnnealingLR(topt, total),
    )
    ours_losses, torch_losses = [], []
    for _, x, y in batches(data, epochs, 128, seed, augment=True):
        loss = losses.cross_entropy(ours(Tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        tloss = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        topt.zero_grad()
        tloss.backward()
        topt.step()
        tsched.step()
        ours_losses.append(loss.item())
        torch_losses.append(tloss.item())
    acc = accuracy(ours, data.x_test, data.y_test)
    theirs.eval()
    with torch.no_grad():
        tacc = float((theirs(torch.tensor(data.x_test)).argmax(-1).numpy() == data.y_test).mean())
    diff = np.abs(np.array(ours_losses) - np.array(torch_losses))
    plot_curves(
        out / f"{kind}_vs_torch.png",
        {"groundup.grad": smooth(ours_losses), "PyTorch": smooth(torch_losses)},
        f"{kind.upper()} on MNIST 5k: same init, batches and optimizer",
        "train loss (10-step mean)",
    )
    sections = [
        f"{kind.upper()}, Adam lr {lr:g} with per-step cosine decay, batch 128, {epochs} epochs, shifted training images; "
        "PyTorch starts from our initial weights and sees the identical batches.",
        markdown_table(
            ["", "groundup.grad", "PyTorch"],
            [["final train loss", ours_losses[-1], torch_losses[-1]], ["test accuracy", acc, tacc]],
            float_format=".4f",
        ),
        f"Loss curves: max |difference| over {len(diff)} steps = {diff.max():.2e} (first 100 steps: "
        f"{diff[:100].max():.2e}); test accuracy difference {abs(acc - tacc) * 100:.2f} points.",
        f"![curves]({kind}_vs_torch.png)",
    ]
    write_report(out / f"{kind}_vs_torch.md", f"{kind.upper()}: groundup.grad vs PyTorch", sections)
    result = {"ours_accuracy": acc, "torch_accuracy": tacc, "max_loss_diff": float(diff.max())}
    print(result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--out", type=Path, default=Path("grad-demo"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        main(args.model, args.epochs, args.out, args.seed)
