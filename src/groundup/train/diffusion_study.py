"""Capstone 3.6: a class-conditional DDPM on scikit-learn's 8×8 digits, sampled by DDPM and DDIM
with classifier-free guidance, and scored by a classifier trained on the real digits.

Quality is measured two ways with that classifier: the accuracy on generated digits of the class they
were asked for (does guidance produce the right digit?), and a Fréchet distance between the
classifier's hidden features of generated and held-out real digits (FID's recipe with a small
in-domain network instead of Inception).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from groundup.models.diffusion import NoiseSchedule, diffusion_loss, sample
from groundup.models.unet import UNet, UNetConfig


def build_denoiser(kind: str, width: int = 32):
    """(network, its config as a dict) for "unet" (U-Net of `width` channels) or "dit" (DiT of width 2·width)."""
    from dataclasses import asdict

    from groundup.models.dit import DiT, DiTConfig

    if kind == "unet":
        cfg = UNetConfig(image_size=8, width=width)
        return UNet(cfg), asdict(cfg)
    if kind == "dit":
        cfg = DiTConfig(image_size=8, patch=2, dim=2 * width, n_layers=4, n_heads=4)
        return DiT(cfg), asdict(cfg)
    raise ValueError(f"denoiser must be 'unet' or 'dit', got {kind!r}")


def load_denoiser(path):
    """(network in eval mode, schedule) from a model.pt written by `main`."""
    from groundup.errors import GroundupError
    from groundup.models.dit import DiT, DiTConfig

    try:
        saved = torch.load(path, weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise GroundupError(
            f"cannot read {path} ({exc}); give the model.pt written by `groundup diffusion train`"
        ) from None
    net = (
        UNet(UNetConfig(**saved["config"]))
        if saved["denoiser"] == "unet"
        else DiT(DiTConfig(**saved["config"]))
    )
    net.load_state_dict(saved["state"])
    return net.eval(), NoiseSchedule(1000, saved["schedule"])


@torch.no_grad()
def sample_saved(path, labels, method: str = "ddim", steps: int = 50, guidance: float = 1.0, seed: int = 0):
    """(N, 1, 8, 8) samples in [-1, 1] of the digits `labels` from a saved model."""
    net, schedule = load_denoiser(path)
    null = net.cfg.null_label
    images = sample(
        net,
        schedule,
        labels,
        (1, 8, 8),
        null_label=null,
        guidance=guidance,
        method=method,
        num_steps=steps,
        generator=torch.Generator().manual_seed(seed),
    )
    return images.clamp(-1, 1)


def save_grid(path, images, rows: int) -> None:
    """A PNG of the images, `rows` rows (one per digit asked for)."""
    from groundup.reports import figure

    cols = len(images) // rows
    grid = images[:, 0].view(rows, cols, 8, 8).permute(0, 2, 1, 3).reshape(8 * rows, 8 * cols)
    with figure(path, figsize=(0.5 * cols + 0.5, 0.5 * rows + 0.5)) as (_, ax):
        ax.imshow(grid.numpy(), cmap="gray_r")
        ax.set(xticks=[], yticks=[])


def load_digits(test_size: int = 300, seed: int = 0):
    """sklearn's 1,797 digits as (N, 1, 8, 8) in [-1, 1] and labels, split by a seeded permutation."""
    from groundup.data import load_sklearn

    x, y = load_sklearn("digits")
    images = torch.tensor(x, dtype=torch.float32).view(-1, 1, 8, 8) / 8.0 - 1.0
    labels = torch.tensor(y, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    test, train = order[:test_size], order[test_size:]
    return images[train], labels[train], images[test], labels[test]


class DigitClassifier(nn.Module):
    def __init__(self, hidden: int = 128):
        super().__init__()
        self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, 10)

    def forward(self, x):
        return self.head(self.hidden(x))


def train_classifier(x, y, epochs: int = 300, seed: int = 0) -> DigitClassifier:
    torch.manual_seed(seed)
    clf = DigitClassifier()
    opt = torch.optim.Adam(clf.parameters(), lr=1e-2)
    for _ in range(epochs):
        loss = F.cross_entropy(clf(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return clf.eval()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½) between Gaussians fitted to feature rows."""
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def train_ddpm(net, schedule, x, y, steps, batch_size, lr, p_uncond, seed, log=print):
    """Adam on the ε-loss; each label is replaced by the null class with probability p_uncond."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    losses, start = [], time.perf_counter()
    for step in range(steps):
        idx = torch.randint(0, len(x), (batch_size,), generator=g)
        labels = y[idx].clone()
        labels[torch.rand(batch_size, generator=g) < p_uncond] = net.cfg.null_label
        loss = diffusion_loss(net, schedule, x[idx], labels, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if (step + 1) % 200 == 0:
            log(f"ddpm step {step + 1}: loss {np.mean(losses[-200:]):.4f}")
    return losses, steps * batch_size / (time.perf_counter() - start)


@torch.no_grad()
def ddim50(net, schedule, labels, guidance: float, seed: int) -> torch.Tensor:
    """The reports' samples: DDIM with 50 steps on 8x8 digits, class-conditional with guidance `guidance`."""
    generator = torch.Generator().manual_seed(seed + 1)
    return sample(
        net, schedule, labels, (1, 8, 8), null_label=10, guidance=guidance, method="ddim", num_steps=50,
        generator=generator,
    )  # fmt: skip


@torch.no_grad()
def score(clf, images, labels, real_features):
    pred = clf(images).argmax(-1)
    per_class = [(pred[labels == c] == c).float().mean().item() for c in range(10)]
    fd = frechet_distance(clf.hidden(images).numpy(), real_features)
    return (pred == labels).float().mean().item(), per_class, fd


def main(
    out: Path,
    steps: int = 3000,
    batch_size: int = 128,
    lr: float = 2e-3,
    width: int = 32,
    kind: str = "cosine",
    denoiser: str = "unet",
    p_uncond: float = 0.1,
    guidances: tuple[float, ...] = (0.0, 1.0, 3.0),
    per_class: int = 20,
    ddpm_images: int = 20,
    seed: int = 0,
    log=print,
) -> dict:
    from groundup.reports import figure, markdown_table, plot_curves, provenance, write_json, write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    x_train, y_train, x_test, y_test = load_digits(seed=seed)
    clf = train_classifier(x_train, y_train, seed=seed)
    with torch.no_grad():
        real_features = clf.hidden(x_test).numpy()
        clf_acc = (clf(x_test).argmax(-1) == y_test).float().mean().item()
    log(f"classifier test accuracy {clf_acc:.3f}")
    torch.manual_seed(seed)
    net, config = build_denoiser(denoiser, width)
    schedule = NoiseSchedule(1000, kind)
    losses, images_per_s = train_ddpm(
        net, schedule, x_train, y_train, steps, batch_size, lr, p_uncond, seed, log
    )
    net.eval()
    torch.save(
        {"denoiser": denoiser, "config": config, "schedule": kind, "state": net.state_dict()},
        out / "model.pt",
    )
    labels = torch.arange(10).repeat_interleave(per_class)
    results = {"classifier_test_accuracy": clf_acc, "train_images_per_s": images_per_s, "schedule": kind}
    results["real_test_fd"] = frechet_distance(clf.hidden(x_train[:300]).detach().numpy(), real_features)
    rows, grids = [], {}
    for w in guidances:
        t0 = time.perf_counter()
        imgs = ddim50(net, schedule, labels, w, seed)
        seconds = (time.perf_counter() - t0) / len(labels)
        acc, per, fd = score(clf, imgs, labels, real_features)
        rows.append([f"DDIM 50, w={w:g}", acc, fd, seconds * 1e3])
        results[f"ddim50_w{w:g}"] = {
            "accuracy": acc,
            "per_class": per,
            "fd": fd,
            "ms_per_image": seconds * 1e3,
        }
        grids[w] = imgs
        log(rows[-1])
    if ddpm_images:  # 1000 network calls per image: the slow sampler DDIM replaces
        w = guidances[-1]
        ddpm_labels = torch.arange(10).repeat_interleave(max(1, ddpm_images // 10))
        t0 = time.perf_counter()
        imgs = sample(
            net,
            schedule,
            ddpm_labels,
            (1, 8, 8),
            null_label=10,
            guidance=w,
            method="ddpm",
            generator=torch.Generator().manual_seed(seed + 2),
        )
        seconds = (time.perf_counter() - t0) / len(ddpm_labels)
        acc, per, _ = score(clf, imgs, ddpm_labels, real_features)
        rows.append([f"DDPM 1000, w={w:g}", acc, float("nan"), seconds * 1e3])
        results[f"ddpm1000_w{w:g}"] = {"accuracy": acc, "per_class": per, "ms_per_image": seconds * 1e3}
    write_json(out / "results.json", results)
    plot_curves(
        out / "loss.png", {"ε-MSE (smoothed)": _smooth(losses)}, "DDPM training on 8×8 digits", "loss"
    )
    with figure(out / "samples.png", ncols=len(grids), figsize=(3.2 * len(grids), 3.4)) as (_, axes):
        for ax, (w, imgs) in zip(np.atleast_1d(axes), grids.items()):
            cols = min(per_class, 10)
            grid = imgs[:, 0].view(10, per_class, 8, 8)[:, :cols].permute(0, 2, 1, 3).reshape(80, 8 * cols)
            ax.imshow(grid.clamp(-1, 1).numpy(), cmap="gray_r")
            ax.set(title=f"DDIM 50 steps, guidance w={w:g}", xticks=[], yticks=[])
    with figure(out / "per_class.png", figsize=(7, 3.4)) as (_, ax):
        for w in guidances:
            ax.plot(range(10), results[f"ddim50_w{w:g}"]["per_class"], marker="o", label=f"w={w:g}")
        ax.set(
            xlabel="digit asked for", ylabel="classifier agrees", title="accuracy per class", xticks=range(10)
        )
        ax.grid(alpha=0.3)
        ax.legend()
    report = [
        "# 3.6 capstone: class-conditional DDPM with classifier-free guidance on 8×8 digits",
        "",
        f"Data: scikit-learn digits ({len(x_train)} train / {len(x_test)} held out), scaled to [-1, 1]. "
        f"{'U-Net width' if denoiser == 'unet' else 'DiT (2×2 patches) width'} {width}, {kind} schedule, "
        f"T = 1000, {steps} Adam steps of {batch_size} "
        f"(label dropped with p = {p_uncond}); {images_per_s:.0f} training images/s. "
        f"Judge: an MLP classifier with {clf_acc:.3f} held-out accuracy on real digits; "
        f"Fréchet distance of its features, real train vs real held-out: {results['real_test_fd']:.2f}.",
        "",
        markdown_table(
            ["sampler", "classifier accuracy on asked class", "Fréchet distance", "ms / image"], rows
        ),
        "",
        "![samples](samples.png) ![per class](per_class.png) ![loss](loss.png)",
        "",
        provenance(("numpy", "torch")),
    ]
    write_text(out / "report.md", "\n".join(report) + "\n")
    return results


def _smooth(values, window: int = 50):
    from groundup.reports import smooth

    return list(smooth(values, window))


@torch.no_grad()
def held_out_loss(net, schedule, x, y, steps=(50, 250, 500, 750, 950), seed: int = 0) -> float:
    """Mean ε-MSE on held-out images at fixed steps with fixed noise: a deterministic denoising score
    that compares two networks on exactly the same problems."""
    g = torch.Generator().manual_seed(seed)
    total = 0.0
    for t in steps:
        noise = torch.randn(x.shape, generator=g)
        a = schedule.alpha_bar(t)
        x_t = a.sqrt() * x + (1 - a).sqrt() * noise
        total += F.mse_loss(net(x_t, torch.full((len(x),), t), y), noise).item()
    return total / len(steps)


def denoisers(seed: int = 0) -> dict:
    """The two ε-networks compared on the same data and budget: the U-Net and a DiT of similar size."""
    from groundup.models.dit import DiT, DiTConfig

    torch.manual_seed(seed)
    unet = UNet(UNetConfig(image_size=8, width=32))
    torch.manual_seed(seed)
    dit = DiT(DiTConfig(image_size=8, patch=2, dim=64, n_layers=4, n_heads=4))
    return {"U-Net": (unet, 2e-3), "DiT": (dit, 1e-3)}


def compare_denoisers(
    out: Path,
    steps: int = 300,
    batch_size: int = 64,
    guidance: float = 1.0,
    per_class: int = 10,
    seed: int = 0,
    log=print,
) -> dict:
    """Train the U-Net and the DiT with the same steps, batch, schedule and label dropout; report the
    held-out ε-loss, the classifier's accuracy and Fréchet distance on guided DDIM-50 samples, the
    parameter count, training images/s and sampling ms/image. Writes dit_vs_unet.{md,json,png}."""
    from groundup.reports import figure, markdown_table, provenance, write_json, write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    x_train, y_train, x_test, y_test = load_digits(seed=seed)
    clf = train_classifier(x_train, y_train, seed=seed)
    with torch.no_grad():
        real_features = clf.hidden(x_test).numpy()
    schedule = NoiseSchedule(1000, "cosine")
    labels = torch.arange(10).repeat_interleave(per_class)
    results, rows, curves, grids = {}, [], {}, {}
    for name, (net, lr) in denoisers(seed).items():
        losses, images_per_s = train_ddpm(
            net, schedule, x_train, y_train, steps, batch_size, lr, 0.1, seed, log
        )
        net.eval()
        held = held_out_loss(net, schedule, x_test, y_test, seed=seed)
        t0 = time.perf_counter()
        imgs = ddim50(net, schedule, labels, guidance, seed)
        ms = (time.perf_counter() - t0) / len(labels) * 1e3
        acc, per, fd = score(clf, imgs, labels, real_features)
        params = sum(p.numel() for p in net.parameters())
        results[name] = {
            "params": params,
            "lr": lr,
            "held_out_eps_mse": held,
            "accuracy": acc,
            "per_class": per,
            "fd": fd,
            "train_images_per_s": images_per_s,
            "ms_per_image": ms,
            "final_train_loss": float(np.mean(losses[-50:])),
        }
        rows.append([name, params, lr, held, acc, fd, images_per_s, ms])
        curves[name], grids[name] = _smooth(losses), imgs
        log(rows[-1])
    write_json(out / "dit_vs_unet.json", results)
    with figure(out / "dit_vs_unet.png", ncols=3, figsize=(12, 3.6)) as (_, (ax, *image_axes)):
        for name, curve in curves.items():
            ax.plot(curve, label=name)
        ax.set(title="training ε-MSE (smoothed)", xlabel="step", yscale="log")
        ax.legend()
        ax.grid(alpha=0.3)
        for axis, (name, imgs) in zip(image_axes, grids.items()):
            grid = imgs[:, 0].view(10, per_class, 8, 8).permute(0, 2, 1, 3).reshape(80, 8 * per_class)
            axis.imshow(grid.clamp(-1, 1).numpy(), cmap="gray_r")
            axis.set(title=f"{name}: DDIM 50, w={guidance:g}", xticks=[], yticks=[])
    header = ["denoiser", "parameters", "lr", "held-out ε-MSE", "classifier accuracy", "Fréchet distance"]
    report = [
        "# 3.6: a tiny DiT against the U-Net on 8×8 digits",
        "",
        f"Same data (scikit-learn digits, {len(x_train)} train / {len(x_test)} held out), cosine schedule, "
        f"{steps} Adam steps of {batch_size} images, label dropped with p = 0.1; samples: DDIM 50 steps, "
        f"guidance w = {guidance:g}, {per_class} per class, judged by the digit classifier of `report.md`. "
        "The DiT cuts the image into 2×2 patches (16 tokens), 4 blocks of width 64 with adaLN-Zero.",
        "",
        markdown_table(header + ["train images/s", "ms / image (DDIM 50)"], rows),
        "",
        "![dit vs unet](dit_vs_unet.png)",
        "",
        provenance(("numpy", "torch")),
    ]
    write_text(out / "dit_vs_unet.md", "\n".join(report) + "\n")
    return results
