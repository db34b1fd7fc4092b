"""Grad-CAM and Grad-CAM++: where in the image a CNN looked for a class (curriculum 3.3).

Hooks on one layer record its activations A (B, K, h, w) on the forward pass and the gradient of the
class score y_c with respect to them, G = dy_c/dA, on the backward pass. Then, per image:

    Grad-CAM (Selvaraju 2017):   a_k = mean_ij G_kij              cam = relu(sum_k a_k A_k)
    Grad-CAM++ (Chattopadhay 2018): alpha_kij = G^2 / (2 G^2 + sum_ab A_kab G^3)   (0 where G = 0)
                                   w_k = sum_ij alpha_kij relu(G_kij)   cam = relu(sum_k w_k A_k)

The map (h, w) is upsampled bilinearly to the input size and min-max scaled to [0, 1]. For a network
that ends in global average pooling and one Linear, y_c = sum_k W_ck mean(A_k), so G_k = W_ck / (hw) and
Grad-CAM is exactly the class activation map relu(sum_k W_ck A_k) up to a positive scale (the test's
closed form).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from groundup.errors import GroundupError

METHODS = ("gradcam", "gradcam++")


class LayerNotFoundError(GroundupError, ValueError):
    """Grad-CAM was asked for a layer the model does not have."""


def find_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule called `name` (as in `named_modules()`), or an error listing the valid names."""
    modules = dict(model.named_modules())
    if name not in modules or name == "":
        valid = ", ".join(n for n in modules if n)
        raise LayerNotFoundError(f"model has no layer {name!r}; valid layer names: {valid}")
    return modules[name]


def activations_and_gradients(
    model: nn.Module, layer: str, x: torch.Tensor, target: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(A, dy_c/dA, c) at `layer` for images x (B, C, H, W); c defaults to the predicted class."""
    module = find_layer(model, layer)
    store: dict[str, torch.Tensor] = {}
    handle = module.register_forward_hook(lambda _m, _i, out: store.__setitem__("a", out))
    try:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)  # so the hooked activation is part of a graph
            logits = model(x)
            target = logits.argmax(-1) if target is None else target
            score = logits.gather(1, target.view(-1, 1)).sum()  # images are independent: one backward
            (grad,) = torch.autograd.grad(score, store["a"])
    finally:
        handle.remove()
    return store["a"].detach(), grad.detach(), target


def cam_weights(a: torch.Tensor, g: torch.Tensor, method: str = "gradcam", eps: float = 0.0) -> torch.Tensor:
    """Channel weights (B, K) from activations and gradients (B, K, h, w). `eps` is added to Grad-CAM++'s
    denominator (pytorch-grad-cam adds 1e-6; with small gradients that visibly shifts the map, so the
    exact formula, eps 0, is the default)."""
    if method == "gradcam":
        return g.mean(dim=(2, 3))
    if method == "gradcam++":
        g2, g3 = g**2, g**3
        denom = 2 * g2 + a.sum(dim=(2, 3), keepdim=True) * g3 + eps
        alpha = torch.where(g != 0, g2 / torch.where(denom != 0, denom, torch.ones_like(denom)), 0.0)
        return (alpha * F.relu(g)).sum(dim=(2, 3))
    raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")


def normalize(cam: torch.Tensor) -> torch.Tensor:
    """Min-max scale each map (B, H, W) to [0, 1] (an all-zero map stays zero)."""
    low = cam.amin(dim=(1, 2), keepdim=True)
    high = cam.amax(dim=(1, 2), keepdim=True)
    return (cam - low) / (high - low).clamp_min(1e-12)


def grad_cam(
    model: nn.Module,
    layer: str,
    x: torch.Tensor,
    target: torch.Tensor | None = None,
    method: str = "gradcam",
    eps: float = 0.0,
) -> torch.Tensor:
    """Class-discriminative maps (B, H, W) in [0, 1] at the input's resolution (model in eval mode)."""
    a, g, _ = activations_and_gradients(model, layer, x, target)
    cam = F.relu((cam_weights(a, g, method, eps)[:, :, None, None] * a).sum(1))  # (B, h, w)
    cam = F.interpolate(cam[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return normalize(cam)


def save_overlays(
    path: str | Path, images: torch.Tensor, cams: dict[str, torch.Tensor], titles: list[str]
) -> Path:
    """A grid PNG: the image, then each method's map over it (jet, alpha 0.5), one row per image."""
    from groundup.reports import figure

    n, cols = len(images), 1 + len(cams)
    with figure(path, nrows=n, ncols=cols, figsize=(2.0 * cols, 2.0 * n), squeeze=False) as (_, axes):
        for i in range(n):
            img = images[i].mean(0).numpy()  # grey view of the input
            axes[i][0].imshow(img, cmap="gray")
            axes[i][0].set_title(titles[i], fontsize=8)
            for j, (name, cam) in enumerate(cams.items(), start=1):
                axes[i][j].imshow(img, cmap="gray")
                axes[i][j].imshow(cam[i].numpy(), cmap="jet", alpha=0.5, vmin=0, vmax=1)
                axes[i][j].set_title(name, fontsize=8)
            for ax in axes[i]:
                ax.axis("off")
    return Path(path)
