"""Receptive fields and the cost of convolutions (curriculum 0.3).

Receptive field of a chain of layers (kernel k_i, stride s_i, dilation d_i), input side first:
    r_0 = 1, j_0 = 1;  r_i = r_{i-1} + (k_i - 1) d_i j_{i-1};  j_i = j_{i-1} s_i
(j is the distance in input pixels between neighbouring outputs). The tests check r against the
non-zero region of d output[centre] / d input.

Cost of a k x k convolution from C_in to C_out channels on an H x W output (no bias):
    standard:            params = k^2 C_in C_out            multiply-adds = k^2 C_in C_out H W
    depthwise-separable: params = k^2 C_in + C_in C_out     multiply-adds = (k^2 C_in + C_in C_out) H W
so the separable version costs 1/C_out + 1/k^2 of the standard one.
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn


def receptive_field(layers: Iterable[tuple[int, int, int]]) -> tuple[int, int]:
    """(receptive field, jump) after layers given as (kernel, stride, dilation)."""
    r, j = 1, 1
    for k, s, d in layers:
        r += (k - 1) * d * j
        j *= s
    return r, j


def _pair(v) -> int:
    return v[0] if isinstance(v, tuple) else v


def layer_geometry(model: nn.Module) -> list[tuple[str, int, int, int]]:
    """(name, kernel, stride, dilation) of every Conv2d and pooling layer in registration order (valid
    for plain chains; branches and shortcuts are not followed)."""
    out = []
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            out.append((name, _pair(m.kernel_size), _pair(m.stride), _pair(m.dilation)))
        elif isinstance(m, nn.MaxPool2d | nn.AvgPool2d):
            out.append(
                (
                    name,
                    _pair(m.kernel_size),
                    _pair(m.stride or m.kernel_size),
                    _pair(getattr(m, "dilation", 1)),
                )
            )
    return out


def conv_cost(k: int, c_in: int, c_out: int, h: int, w: int) -> dict[str, int]:
    """Parameters and multiply-adds of a standard and a depthwise-separable k x k convolution."""
    return {
        "standard_params": k * k * c_in * c_out,
        "standard_macs": k * k * c_in * c_out * h * w,
        "separable_params": k * k * c_in + c_in * c_out,
        "separable_macs": (k * k * c_in + c_in * c_out) * h * w,
    }


# (k, C_in, C_out, output side): layers of the sizes MobileNetV2 runs at 224x224, for the note's table
SEPARABLE_CASES = ((3, 32, 64, 112), (3, 64, 128, 56), (3, 128, 256, 28), (3, 256, 512, 14), (5, 96, 96, 14))


def cost_table(cases=SEPARABLE_CASES) -> list[list[str]]:
    """Markdown rows: layer, standard and separable parameters and multiply-adds, and the ratio."""
    rows = []
    for k, c_in, c_out, side in cases:
        c = conv_cost(k, c_in, c_out, side, side)
        rows.append(
            [
                f"{k}x{k}, {c_in}->{c_out}, {side}x{side}",
                f"{c['standard_params']:,}",
                f"{c['separable_params']:,}",
                f"{c['standard_macs'] / 1e6:,.1f} M",
                f"{c['separable_macs'] / 1e6:,.1f} M",
                f"{c['separable_macs'] / c['standard_macs']:.4f} = 1/{c_out} + 1/{k * k}",
            ]
        )
    return rows


def separable_pair(k: int, c_in: int, c_out: int) -> tuple[nn.Module, nn.Module]:
    """The two layers compared: Conv2d(c_in, c_out, k) and depthwise k x k + pointwise 1x1 (no biases)."""
    standard = nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False)
    separable = nn.Sequential(
        nn.Conv2d(c_in, c_in, k, padding=k // 2, groups=c_in, bias=False),
        nn.Conv2d(c_in, c_out, 1, bias=False),
    )
    return standard, separable
