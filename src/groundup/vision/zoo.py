"""The CNN zoo capstone (curriculum 0.3): every architecture trained with identical settings.

Same data (real digits as 3 x 32 x 32: `vision.data.as_rgb32`), same split, same optimiser (AdamW,
lr 2e-3, cosine to zero, batch 64), same epochs and seed for every model; the ImageNet-size families
run as their small-input variants, thinned (`width`) so that each fits a CPU budget. Recorded per
model: test accuracy after every epoch (the convergence curves), parameters, seconds per epoch, its
first layer's filters and their feature maps for one test image.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from groundup.errors import GroundupError
from groundup.models import cnn
from groundup.models.vit import VisionTransformer
from groundup.train.tasks import ImageSplits, accuracy
from groundup.vision.data import as_rgb32

# name: (builder for 10 classes at 3x32x32, what it is)
ZOO_MODELS: dict[str, tuple[Callable[[], nn.Module], str]] = {
    "lenet5": (lambda: cnn.LeNet5(num_classes=10, in_channels=3, image_size=32), "LeNet-5, 32x32 input as in 1998"),
    "alexnet": (lambda: cnn.AlexNet(10, small_input=True, width=0.25), "CIFAR-size AlexNet, width 1/4"),
    "vgg11_bn": (lambda: cnn.VGG(11, 10, batch_norm=True, small_input=True, width=0.25), "VGG-11 + BN, width 1/4"),
    "vgg16_bn": (lambda: cnn.VGG(16, 10, batch_norm=True, small_input=True, width=0.25), "VGG-16 + BN, width 1/4"),
    "resnet18": (lambda: cnn.ResNet(18, 10, small_input=True, width=0.25), "ResNet-18, width 1/4"),
    "resnet34": (lambda: cnn.ResNet(34, 10, small_input=True, width=0.25), "ResNet-34, width 1/4"),
    "resnet50": (lambda: cnn.ResNet(50, 10, small_input=True, width=0.25), "ResNet-50, width 1/4"),
    "googlenet": (lambda: cnn.GoogLeNet(10, small_input=True, width=0.25), "GoogLeNet, width 1/4"),
    "mobilenet_v2": (lambda: cnn.MobileNetV2(10, small_input=True, width=0.5), "MobileNetV2, width 1/2"),
    "efficientnet_b0": (lambda: cnn.EfficientNet(10, small_input=True, width_mult=0.5), "EfficientNet-B0, width 1/2"),
    "densenet121": (lambda: cnn.DenseNet(10, small_input=True, growth=8, init_features=16), "DenseNet-121, growth 8"),
    "vit_tiny": (lambda: VisionTransformer(32, 4, 10, dim=64, depth=4, heads=4, mlp_ratio=2), "ViT, 4x4 patches, 4 x 64"),
}  # fmt: skip


def first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """The first Conv2d in registration order (the layer that looks at pixels)."""
    return next((n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d))


def train_zoo_model(
    model: nn.Module, data: ImageSplits, epochs: int, seed: int, batch_size: int = 64, lr: float = 2e-3
) -> dict:
    """AdamW + cosine; test accuracy after every epoch and the seconds each epoch took."""
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * math.ceil(len(data.x_train) / batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator().manual_seed(seed)
    curve, losses, seconds = [], [], []
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()
        order = torch.randperm(len(data.x_train), generator=gen)
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        seconds.append(time.perf_counter() - start)
        curve.append(accuracy(model, data.x_test, data.y_test, batch_size=250))
    return {"curve": curve, "losses": losses, "seconds_per_epoch": sum(seconds) / len(seconds)}


def run_zoo(
    data: ImageSplits,
    *,
    epochs: int = 2,
    models: list[str] | None = None,
    quick: bool = False,
    seed: int = 0,
    runs_dir: str | Path | None = None,
    progress: Callable[[str], None] = print,
) -> dict:
    """Train the chosen zoo models (all by default) on `data` converted to 3 x 32 x 32.

    With `runs_dir`, each trained model and its record are saved there as `<name>.pt` and reused when
    present, so an interrupted zoo resumes and the zoo can be split over processes (`--models`); a
    model's result does not depend on which process trains it (each one is seeded on its own)."""
    names = models or list(ZOO_MODELS)
    unknown = [n for n in names if n not in ZOO_MODELS]
    if unknown:
        raise ValueError(f"models: unknown {', '.join(unknown)}; choose from {', '.join(ZOO_MODELS)}")
    rgb = as_rgb32(data)
    results, trained = {}, {}
    for name in names:
        torch.manual_seed(seed)
        model = ZOO_MODELS[name][0]()
        saved = Path(runs_dir) / f"{name}.pt" if runs_dir else None
        if saved and saved.exists():
            state = torch.load(saved, weights_only=True)
            if (state["epochs"], state["seed"], state["train_size"]) != (epochs, seed, len(rgb.x_train)):
                raise GroundupError(
                    f"{saved} was trained with other settings (epochs, seed or data size); remove it or "
                    "choose another --runs folder"
                )
            model.load_state_dict(state["model"])
            r = state["record"]
        else:
            r = train_zoo_model(model, rgb, epochs, seed)
            if saved:
                saved.parent.mkdir(parents=True, exist_ok=True)
                record = {"epochs": epochs, "seed": seed, "train_size": len(rgb.x_train)}
                torch.save({**record, "record": r, "model": model.state_dict()}, saved)
        r["params"] = sum(p.numel() for p in model.parameters())
        r["accuracy"] = r["curve"][-1]
        r["description"] = ZOO_MODELS[name][1]
        results[name], trained[name] = r, model.eval()
        progress(
            f"{name}: accuracy {r['accuracy']:.4f}, {r['params']:,} parameters, {r['seconds_per_epoch']:.1f} s/epoch"
        )
    return {"results": results, "models": trained, "image": rgb.x_test[0], "label": int(rgb.y_test[0])}


def _filters_and_maps(model: nn.Module, image: torch.Tensor) -> tuple[str, torch.Tensor, torch.Tensor]:
    name, conv = first_conv(model)
    maps = {}
    handle = conv.register_forward_hook(lambda _m, _i, out: maps.__setitem__("a", out.detach()))
    with torch.no_grad():
        model(image[None])
    handle.remove()
    return name, conv.weight.detach().mean(1), maps["a"][0]  # (K, k, k) filters, (K, h, w) maps


def write_report(out: str | Path, result: dict, budget: str) -> Path:
    """zoo.md with the table; curves.png, filters.png, feature_maps.png; zoo.json with the numbers."""
    from groundup.reports import figure, markdown_table, plot_curves, write_json, write_report

    out = Path(out)
    res = result["results"]
    rows = [
        [n, r["description"], f"{r['accuracy']:.4f}", f"{r['params']:,}", f"{r['seconds_per_epoch']:.1f}"]
        for n, r in res.items()
    ]
    plot_curves(
        out / "curves.png",
        {n: r["curve"] for n, r in res.items()},
        "Test accuracy per epoch",
        "accuracy",
        "epoch",
    )
    from groundup.reports import smooth

    plot_curves(
        out / "loss.png",
        {n: smooth(r["losses"], 20) for n, r in res.items()},
        "Training loss",
        "loss",
        log=True,
    )
    shown = 8
    with figure(
        out / "filters.png", nrows=len(res), ncols=shown, figsize=(1.1 * shown, 1.1 * len(res)), squeeze=False
    ) as (_, ax):
        with figure(
            out / "feature_maps.png",
            nrows=len(res),
            ncols=shown + 1,
            figsize=(1.1 * (shown + 1), 1.1 * len(res)),
            squeeze=False,
        ) as (_, ax2):
            for i, (name, model) in enumerate(result["models"].items()):
                layer, filters, maps = _filters_and_maps(model, result["image"])
                ax2[i][0].imshow(result["image"].mean(0), cmap="gray")
                ax2[i][0].set_ylabel(name, fontsize=7)
                for j in range(shown):
                    if j < len(filters):
                        ax[i][j].imshow(filters[j], cmap="coolwarm")
                        ax2[i][j + 1].imshow(maps[j], cmap="viridis")
                ax[i][0].set_ylabel(name, fontsize=7)
                for a in (*ax[i], *ax2[i]):
                    a.set_xticks([])
                    a.set_yticks([])
    write_json(out / "zoo.json", {n: {k: v for k, v in r.items()} for n, r in res.items()})
    sections = [
        budget,
        "Every model: the same 3 x 32 x 32 inputs (28 x 28 digits padded by 2 with the background and "
        "replicated to three channels), AdamW (lr 2e-3, weight decay 0.01) with a cosine schedule, batch "
        "64, cross-entropy, no augmentation, seed fixed. Small-input variants use CIFAR-style stems.",
        markdown_table(["model", "variant", "test accuracy", "parameters", "s / epoch"], rows),
        "![test accuracy per epoch](curves.png)\n\n![training loss](loss.png)",
        "First-layer filters (mean over the three identical input channels), one row per model:\n\n![filters](filters.png)",
        "The first layer's feature maps for one test digit (left):\n\n![feature maps](feature_maps.png)",
    ]
    return write_report(out / "zoo.md", "CNN architecture zoo (curriculum 0.3)", sections)
