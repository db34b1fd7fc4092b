"""Image classifiers: LeNet-5, and the plain MLP they are measured against.

Every model maps images (B, C, H, W) to class logits (B, num_classes), like torchvision's, so the
same training loop (`groundup.train.tasks`), the quantizers and the pruners take any of them.

LeNet-5 (LeCun et al., 1998) in its usual modern reading, ReLU and max-pooling:
    (B, 1, 28, 28) -conv5x5 pad 2-> (B, 6, 28, 28) -pool-> (B, 6, 14, 14) -conv5x5-> (B, 16, 10, 10)
    -pool-> (B, 16, 5, 5) -flatten-> 400 -> 120 -> 84 -> num_classes
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LeNet5(nn.Module):
    """LeNet-5 on 28x28 single-channel images; `width` multiplies every hidden size (a wider teacher)."""

    def __init__(self, width: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6 * width, 5, padding=2)
        self.conv2 = nn.Conv2d(6 * width, 16 * width, 5)
        self.fc1 = nn.Linear(16 * width * 25, 120 * width)
        self.fc2 = nn.Linear(120 * width, 84 * width)
        self.fc3 = nn.Linear(84 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 1, 28, 28) -> (B, num_classes)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, 6w, 14, 14)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # (B, 16w, 5, 5)
        x = F.relu(self.fc1(x.flatten(1)))  # (B, 120w)
        return self.fc3(F.relu(self.fc2(x)))


def mlp_classifier(
    hidden: tuple[int, ...] = (256, 128), in_features: int = 784, num_classes: int = 10
) -> nn.Sequential:
    """Flatten -> [Linear -> ReLU] per hidden size -> Linear: (B, 1, 28, 28) -> (B, num_classes).

    A Sequential, so its Linears are addressed by index ("1", "3", "5" for two hidden layers).
    """
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, num_classes))
