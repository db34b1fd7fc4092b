"""Basic layers: Linear, Conv2d, pooling, Flatten, Dropout, Embedding and activation modules.

Parameter names, shapes and default initializations follow PyTorch (kaiming-uniform with a = sqrt(5)
for weights, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for biases), so weights copy across one-to-one.
"""

from __future__ import annotations

import math

import numpy as np

from groundup.grad import conv
from groundup.grad import functional as F
from groundup.grad.nn import init
from groundup.grad.nn.module import Module, Parameter
from groundup.grad.tensor import Tensor


def _default_init(weight: Parameter, bias: Parameter | None, rng) -> None:
    init.kaiming_uniform_(weight, a=math.sqrt(5), rng=rng)
    if bias is not None:
        bound = 1 / math.sqrt(init.fans(weight.shape)[0])
        init.uniform_(bias, -bound, bound, rng)


class Linear(Module):
    """y = x W^T + b, W of shape (out_features, in_features)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=np.float32, rng=None):
        super().__init__()
        self.weight = Parameter(np.zeros((out_features, in_features), dtype))
        self.bias = Parameter(np.zeros(out_features, dtype)) if bias else None
        _default_init(self.weight, self.bias, rng)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)


class Conv2d(Module):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        dtype=np.float32,
        rng=None,
    ):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}"
            )
        kh, kw = conv._pair(kernel_size)
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.weight = Parameter(np.zeros((out_channels, in_channels // groups, kh, kw), dtype))
        self.bias = Parameter(np.zeros(out_channels, dtype)) if bias else None
        _default_init(self.weight, self.bias, rng)

    def forward(self, x: Tensor) -> Tensor:
        return conv.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation

    def forward(self, x: Tensor) -> Tensor:
        return conv.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation)


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: Tensor) -> Tensor:
        return conv.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class Flatten(Module):
    """(N, ...) -> (N, prod(...))."""

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1)


class Dropout(Module):
    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability p must be in [0, 1], got {p}")
        self.p, self.rng = p, rng if rng is not None else np.random.default_rng()

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self.rng)


class Embedding(Module):
    """A lookup table of shape (num_embeddings, dim), initialized N(0, 1) like torch."""

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype=np.float32, rng=None):
        super().__init__()
        rng = rng if rng is not None else np.random.default_rng()
        self.weight = Parameter(rng.standard_normal((num_embeddings, embedding_dim)).astype(dtype))

    def forward(self, indices) -> Tensor:
        return F.embedding(indices, self.weight)


class _Activation(Module):
    fn = staticmethod(F.relu)

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x)


class ReLU(_Activation):
    fn = staticmethod(F.relu)


class Tanh(_Activation):
    fn = staticmethod(F.tanh)


class Sigmoid(_Activation):
    fn = staticmethod(F.sigmoid)


class GELU(_Activation):
    fn = staticmethod(F.gelu)


class SiLU(_Activation):
    fn = staticmethod(F.silu)
