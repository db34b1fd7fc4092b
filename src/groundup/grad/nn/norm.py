"""Normalization layers: subtract a mean, divide by a standard deviation, then scale and shift.

They differ only in which axes the statistics are taken over, for x of shape (N, C, *spatial):
BatchNorm: over (N, *spatial) per channel, with running averages used in eval mode;
LayerNorm: over the trailing `normalized_shape`; GroupNorm: over (C/G, *spatial) per group;
InstanceNorm: over spatial per (n, c); RMSNorm: no mean, x / sqrt(mean(x^2) + eps).
Normalization uses the biased variance; BatchNorm's running variance stores the unbiased one (torch).
"""

from __future__ import annotations

import numpy as np

from groundup.grad.nn.module import Module, Parameter
from groundup.grad.tensor import Tensor, no_grad


def _normalize(x: Tensor, axes: tuple[int, ...], eps: float) -> Tensor:
    mean = x.mean(axes, keepdims=True)
    centered = x - mean
    var = (centered * centered).mean(axes, keepdims=True)
    return centered / (var + eps).sqrt()


class _BatchNorm(Module):
    expected_ndim: tuple[int, ...] = ()

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine=True, dtype=np.float32
    ):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype)) if affine else None
        self.register_buffer("running_mean", np.zeros(num_features, dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype))
        self.register_buffer("num_batches_tracked", np.array(0, np.int64))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self.expected_ndim or x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}): input shape {x.shape} needs {self.expected_ndim} "
                f"dims with {self.num_features} channels on axis 1"
            )
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        if self.training:
            y = _normalize(x, axes, self.eps)
            n = x.size // x.shape[1]
            mean = x.data.mean(axis=axes)
            var = x.data.var(axis=axes) * n / max(n - 1, 1)
            m = self.momentum
            self._buffers["running_mean"] = ((1 - m) * self.running_mean + m * mean).astype(x.dtype)
            self._buffers["running_var"] = ((1 - m) * self.running_var + m * var).astype(x.dtype)
            self._buffers["num_batches_tracked"] = self.num_batches_tracked + 1
        else:
            with no_grad():
                mean = Tensor(self.running_mean.reshape(shape))
                std = Tensor(np.sqrt(self.running_var + self.eps).reshape(shape))
            y = (x - mean) / std
        if self.weight is not None:
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        return y


class BatchNorm1d(_BatchNorm):
    """Input (N, C) or (N, C, L)."""

    expected_ndim = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Input (N, C, H, W)."""

    expected_ndim = (4,)


class LayerNorm(Module):
    def __init__(
        self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, dtype=np.float32
    ):
        super().__init__()
        self.normalized_shape = (
            (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        )
        self.eps = eps
        self.weight = Parameter(np.ones(self.normalized_shape, dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype)) if elementwise_affine else None

    def forward(self, x: Tensor) -> Tensor:
        k = len(self.normalized_shape)
        if x.shape[-k:] != self.normalized_shape:
            raise ValueError(f"LayerNorm: input shape {x.shape} does not end with {self.normalized_shape}")
        y = _normalize(x, tuple(range(x.ndim - k, x.ndim)), self.eps)
        return y * self.weight + self.bias if self.weight is not None else y


class GroupNorm(Module):
    def __init__(
        self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, dtype=np.float32
    ):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"num_groups={num_groups} must divide num_channels={num_channels}")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        self.weight = Parameter(np.ones(num_channels, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_channels, dtype)) if affine else None

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: input shape {x.shape} needs {self.num_channels} channels on axis 1")
        n = x.shape[0]
        grouped = x.reshape(n, self.num_groups, -1)  # (N, G, C/G * spatial)
        y = _normalize(grouped, (2,), self.eps).reshape(x.shape)
        if self.weight is None:
            return y
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return y * self.weight.reshape(shape) + self.bias.reshape(shape)


class InstanceNorm2d(Module):
    """Per-sample, per-channel normalization over (H, W); no running statistics (torch's default)."""

    def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = False, dtype=np.float32):
        super().__init__()
        self.num_features, self.eps = num_features, eps
        self.weight = Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype)) if affine else None

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"InstanceNorm2d: input shape {x.shape} needs (N, {self.num_features}, H, W)")
        y = _normalize(x, (2, 3), self.eps)
        if self.weight is None:
            return y
        return y * self.weight.reshape(1, -1, 1, 1) + self.bias.reshape(1, -1, 1, 1)


class RMSNorm(Module):
    """x / sqrt(mean(x^2) + eps) * weight (Zhang and Sennrich 2019); eps defaults to the dtype's eps."""

    def __init__(self, normalized_shape, eps: float | None = None, dtype=np.float32):
        super().__init__()
        self.normalized_shape = (
            (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        )
        self.eps = eps
        self.weight = Parameter(np.ones(self.normalized_shape, dtype))

    def forward(self, x: Tensor) -> Tensor:
        k = len(self.normalized_shape)
        if x.shape[-k:] != self.normalized_shape:
            raise ValueError(f"RMSNorm: input shape {x.shape} does not end with {self.normalized_shape}")
        eps = self.eps if self.eps is not None else float(np.finfo(x.dtype).eps)
        ms = (x * x).mean(tuple(range(x.ndim - k, x.ndim)), keepdims=True)
        return x / (ms + eps).sqrt() * self.weight
