"""Data augmentation as composable torch transforms (curriculum 3.3).

Two levels, like torchvision's `transforms.v2`:
- functional ops with explicit parameters on an image (..., C, H, W) float in [0, 1] (or standardised:
  the geometric ops do not care): `pad`, `crop`, `hflip`, `rotate`, `adjust_brightness`,
  `adjust_contrast`, `adjust_saturation`, `erase`. The tests compare each with torchvision's functional
  op at the same parameters.
- random transforms that draw those parameters from a `torch.Generator` and apply them to one image
  (C, H, W): `RandomCrop(size, padding)`, `RandomHorizontalFlip`, `RandomRotation`, `ColorJitter`,
  `RandomErasing`; `Compose` chains them and `apply_batch` runs a pipeline on every image of a batch.

Batch-level mixing returns soft labels (B, K):
- mixup (Zhang 2018): lambda ~ Beta(a, a); x = lambda x_i + (1 - lambda) x_j, y = lambda e_i + (1 - lambda) e_j;
- cutmix (Yun 2019): a box of area (1 - lambda) H W from x_j pasted into x_i; the label weight is the
  exact kept area fraction after clipping the box to the image.

Rotation: output pixel p (centred coordinates) samples input R(-angle) p, bilinearly, zeros outside;
positive angles turn the image counter-clockwise as displayed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


# ---- functional ops --------------------------------------------------------------------------------------


def pad(img: torch.Tensor, padding: int, fill: float = 0.0) -> torch.Tensor:
    """Constant padding of `padding` pixels on every side: (..., C, H, W) -> (..., C, H+2p, W+2p)."""
    return F.pad(img, (padding, padding, padding, padding), value=fill)


def crop(img: torch.Tensor, top: int, left: int, height: int, width: int) -> torch.Tensor:
    """The window [top, top+height) x [left, left+width)."""
    return img[..., top : top + height, left : left + width]


def hflip(img: torch.Tensor) -> torch.Tensor:
    """Mirror left-right."""
    return img.flip(-1)


def rotate(img: torch.Tensor, angle: float, mode: str = "bilinear") -> torch.Tensor:
    """Rotate by `angle` degrees counter-clockwise about the image centre; uncovered pixels become 0."""
    h, w = img.shape[-2:]
    a = math.radians(angle)
    cos, sin = math.cos(a), math.sin(a)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=img.dtype), torch.arange(w, dtype=img.dtype), indexing="ij")
    xc, yc = xs - (w - 1) / 2, ys - (h - 1) / 2  # output pixel centres, image centre at 0
    x_in = cos * xc - sin * yc  # rotate back by -angle (y points down)
    y_in = sin * xc + cos * yc
    grid = torch.stack([x_in / (w / 2), y_in / (h / 2)], dim=-1)  # normalised, align_corners=False
    flat = img.reshape(-1, *img.shape[-3:])  # (N, C, H, W)
    out = F.grid_sample(flat, grid.expand(flat.shape[0], h, w, 2), mode=mode, align_corners=False)
    return out.reshape(img.shape)


def _blend(a: torch.Tensor, b: torch.Tensor | float, factor: float) -> torch.Tensor:
    return (factor * a + (1 - factor) * b).clamp(0, 1)


def grayscale(img: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma (0.2989 R + 0.587 G + 0.114 B) as one channel (..., 1, H, W); grey stays grey."""
    if img.shape[-3] == 1:
        return img
    r, g, b = img.unbind(-3)
    return (0.2989 * r + 0.587 * g + 0.114 * b).unsqueeze(-3)


def adjust_brightness(img: torch.Tensor, factor: float) -> torch.Tensor:
    """Scale intensities by `factor` (blend with black), clipped to [0, 1]."""
    return _blend(img, 0.0, factor)


def adjust_contrast(img: torch.Tensor, factor: float) -> torch.Tensor:
    """Blend with the mean grey level of the image: factor 0 is flat grey, 1 the original."""
    mean = grayscale(img).mean(dim=(-3, -2, -1), keepdim=True)
    return _blend(img, mean, factor)


def adjust_saturation(img: torch.Tensor, factor: float) -> torch.Tensor:
    """Blend with the image's own grey version: 0 is greyscale, 1 the original (grey images unchanged)."""
    return img if img.shape[-3] == 1 else _blend(img, grayscale(img), factor)


def erase(
    img: torch.Tensor, top: int, left: int, height: int, width: int, value: float = 0.0
) -> torch.Tensor:
    """A copy with the window set to `value`."""
    out = img.clone()
    out[..., top : top + height, left : left + width] = value
    return out


# ---- random transforms (one image, parameters from a generator) -------------------------------------------


def _uniform(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen))


def _randint(gen: torch.Generator, high: int) -> int:
    return int(torch.randint(high, (), generator=gen))


class RandomCrop:
    """Pad by `padding` (with `fill`), then crop a random size x size window."""

    def __init__(self, size: int, padding: int = 0, fill: float = 0.0):
        self.size, self.padding, self.fill = size, padding, fill

    def __call__(self, img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        img = pad(img, self.padding, self.fill) if self.padding else img
        h, w = img.shape[-2:]
        return crop(
            img, _randint(gen, h - self.size + 1), _randint(gen, w - self.size + 1), self.size, self.size
        )


class RandomHorizontalFlip:
    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return hflip(img) if float(torch.rand((), generator=gen)) < self.p else img


class RandomRotation:
    """Rotate by an angle drawn uniformly from [-degrees, degrees]."""

    def __init__(self, degrees: float):
        self.degrees = degrees

    def __call__(self, img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return rotate(img, _uniform(gen, -self.degrees, self.degrees))


class ColorJitter:
    """Brightness, contrast and saturation factors from [1 - s, 1 + s], applied in a random order."""

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0):
        self.ops = [
            (op, s)
            for op, s in (
                (adjust_brightness, brightness),
                (adjust_contrast, contrast),
                (adjust_saturation, saturation),
            )
            if s > 0
        ]

    def __call__(self, img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        for i in torch.randperm(len(self.ops), generator=gen).tolist():
            op, s = self.ops[i]
            img = op(img, _uniform(gen, max(0.0, 1 - s), 1 + s))
        return img


class RandomErasing:
    """With probability p, erase a box of area scale*H*W (scale ~ U(0.02, 0.33)) and aspect ratio
    r (log r ~ U(log 0.3, log 3.3)); ten tries to fit it, else leave the image (Zhong et al. 2017)."""

    def __init__(self, p: float = 0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value: float = 0.0):
        self.p, self.scale, self.ratio, self.value = p, scale, ratio, value

    def __call__(self, img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if float(torch.rand((), generator=gen)) >= self.p:
            return img
        h, w = img.shape[-2:]
        for _ in range(10):
            area = h * w * _uniform(gen, *self.scale)
            r = math.exp(_uniform(gen, math.log(self.ratio[0]), math.log(self.ratio[1])))
            eh, ew = int(round(math.sqrt(area * r))), int(round(math.sqrt(area / r)))
            if 0 < eh < h and 0 < ew < w:
                return erase(img, _randint(gen, h - eh + 1), _randint(gen, w - ew + 1), eh, ew, self.value)
        return img


class Compose:
    """Apply transforms in order, all drawing from the same generator."""

    def __init__(self, transforms: Sequence[Transform]):
        self.transforms = list(transforms)

    def __call__(self, img: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        for t in self.transforms:
            img = t(img, gen)
        return img


def apply_batch(transform: Transform, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The transform applied to each image of (B, C, H, W), independently."""
    return torch.stack([transform(img, gen) for img in x])


def train_pipeline(
    size: int, *, padding: int = 2, rotation: float = 0.0, erasing: float = 0.0, flip: bool = False
):
    """Random crop with padding [+ flip] [+ rotation] [+ random erasing]. Digits are not mirror-symmetric,
    so flipping is off by default; the eval pipeline is the identity (inputs are already standardised)."""
    steps: list[Transform] = [RandomCrop(size, padding)]
    if flip:
        steps.append(RandomHorizontalFlip())
    if rotation:
        steps.append(RandomRotation(rotation))
    if erasing:
        steps.append(RandomErasing(erasing))
    return Compose(steps)


def eval_pipeline():
    return Compose([])


# ---- batch mixing ----------------------------------------------------------------------------------------


def _check_alpha(alpha: float) -> None:
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0 (the Beta(alpha, alpha) parameter), got {alpha}")


def one_hot(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    return F.one_hot(y, num_classes).float()


def mixup(
    x: torch.Tensor, y: torch.Tensor, num_classes: int, alpha: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(mixed images, soft labels (B, K), lambda): every image blended with a shuffled partner."""
    _check_alpha(alpha)
    lam = _beta(alpha, gen)
    perm = torch.randperm(len(x), generator=gen)
    targets = one_hot(y, num_classes)
    return lam * x + (1 - lam) * x[perm], lam * targets + (1 - lam) * targets[perm], lam


def _beta(alpha: float, gen: torch.Generator) -> float:
    """Beta(a, a) from two Gamma draws, so the generator alone fixes it: G1 / (G1 + G2)."""
    g = torch._standard_gamma(torch.full((2,), float(alpha)), generator=gen)
    return float(g[0] / g.sum())


def cutmix_box(h: int, w: int, lam: float, gen: torch.Generator) -> tuple[int, int, int, int]:
    """A box (top, left, bottom, right) of about (1 - lam) H W pixels around a uniform centre, clipped."""
    cut = math.sqrt(1 - lam)
    ch, cw = int(h * cut), int(w * cut)
    cy, cx = _randint(gen, h), _randint(gen, w)
    return max(cy - ch // 2, 0), max(cx - cw // 2, 0), min(cy + ch // 2, h), min(cx + cw // 2, w)


def cutmix(
    x: torch.Tensor, y: torch.Tensor, num_classes: int, alpha: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(images with a partner's box pasted in, soft labels weighted by area, the kept-area fraction)."""
    _check_alpha(alpha)
    lam = _beta(alpha, gen)
    perm = torch.randperm(len(x), generator=gen)
    h, w = x.shape[-2:]
    top, left, bottom, right = cutmix_box(h, w, lam, gen)
    out = x.clone()
    out[..., top:bottom, left:right] = x[perm][..., top:bottom, left:right]
    kept = 1 - (bottom - top) * (right - left) / (h * w)
    targets = one_hot(y, num_classes)
    return out, kept * targets + (1 - kept) * targets[perm], kept
