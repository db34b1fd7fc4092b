"""Figures that show what the vision code does: Grad-CAM overlays on real digits and a grid of
augmented samples (`groundup vision gradcam|augment`)."""

from __future__ import annotations

from pathlib import Path

import torch

from groundup.train.tasks import ImageSplits, accuracy


def gradcam_figure(
    out: str | Path, data: ImageSplits, *, layer: str = "features.4", epochs: int = 2, seed: int = 0
) -> Path:
    """Train the lab CNN, then save gradcam.png: six test digits with Grad-CAM and Grad-CAM++ maps."""
    from groundup.vision.gradcam import find_layer, grad_cam, save_overlays
    from groundup.vision.lab import BASELINE, LabNet, batch_loss, make_optimizer

    torch.manual_seed(seed)
    model = LabNet()
    find_layer(model, layer)  # a wrong name fails before training
    opt = make_optimizer(BASELINE, model.parameters())
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(data.x_train), generator=gen)
        for i in range(0, len(order), 64):
            idx = order[i : i + 64]
            loss = batch_loss(BASELINE, model, data.x_train[idx], data.y_train[idx], 10, gen)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    x, y = data.x_test[:6], data.y_test[:6]
    pred = model(x).argmax(-1)
    cams = {m: grad_cam(model, layer, x, pred, m) for m in ("gradcam", "gradcam++")}
    titles = [f"label {int(a)}, predicted {int(b)}" for a, b in zip(y, pred)]
    acc = accuracy(model, data.x_test, data.y_test)
    path = save_overlays(Path(out) / "gradcam.png", x, cams, titles)
    print(f"lab CNN test accuracy {acc:.4f}; maps from layer {layer!r} for the predicted class")
    return path


def augmentation_grid(out: str | Path, seed: int = 0) -> Path:
    """augment.png: four real digits (rows), each through crop, rotation, erasing, mixup and cutmix."""
    from groundup.data.datasets import load_mnist_5k
    from groundup.reports import figure
    from groundup.vision import augment as A

    split = load_mnist_5k()
    x = torch.from_numpy(split.test_images[:8]).float().div(255)[:, None]  # (8, 1, 28, 28) in [0, 1]
    y = torch.from_numpy(split.test_labels[:8])
    gen = torch.Generator().manual_seed(seed)
    columns = {
        "original": lambda img: img,
        "crop (pad 4)": lambda img: A.RandomCrop(28, 4)(img, gen),
        "rotation 30": lambda img: A.RandomRotation(30)(img, gen),
        "jitter": lambda img: A.ColorJitter(0.6, 0.6)(img, gen),
        "erasing": lambda img: A.RandomErasing(1.0, value=0.5)(img, gen),
    }
    mixed, soft_m, _ = A.mixup(x, y, 10, 1.0, gen)
    cut, soft_c, _ = A.cutmix(x, y, 10, 1.0, gen)
    rows = 4
    with figure(
        Path(out) / "augment.png",
        nrows=rows,
        ncols=len(columns) + 2,
        figsize=(1.4 * (len(columns) + 2), 1.5 * rows),
        squeeze=False,
    ) as (_, ax):
        for i in range(rows):
            images = [f(x[i]) for f in columns.values()] + [mixed[i], cut[i]]
            names = [*columns, f"mixup {soft_m[i].max():.2f}", f"cutmix {soft_c[i].max():.2f}"]
            for j, (img, name) in enumerate(zip(images, names)):
                ax[i][j].imshow(img[0], cmap="gray", vmin=0, vmax=1)
                ax[i][j].axis("off")
                if i == 0 or j >= len(columns):
                    ax[i][j].set_title(name, fontsize=7)
    return Path(out) / "augment.png"
