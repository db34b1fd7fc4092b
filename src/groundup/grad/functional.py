"""Activations, softmax, linear, embedding and dropout as autograd functions on `Tensor`.

Each function computes its output in NumPy and returns the local derivative rule; formulas follow
PyTorch's definitions (for example `softplus` is linear above `threshold`, `gelu` has an exact and a
tanh form) so the reference comparisons can be tight.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

from groundup.grad.tensor import Tensor, _sigmoid

SQRT_2_OVER_PI = np.sqrt(2.0 / np.pi)


def relu(x: Tensor) -> Tensor:
    return x.relu()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    slope = np.where(x.data > 0, 1.0, negative_slope).astype(x.dtype)
    return Tensor._make(x.data * slope, (x,), lambda g: (g * slope,))


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    d = x.data
    neg = alpha * np.expm1(np.minimum(d, 0))  # alpha (e^x - 1) on the negative side
    out = np.where(d > 0, d, neg)
    return Tensor._make(out, (x,), lambda g: (g * np.where(d > 0, 1.0, neg + alpha),))


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x Phi(x); `approximate="tanh"` uses 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    d = x.data
    if approximate == "none":
        cdf = 0.5 * (1 + erf(d / np.sqrt(2.0)))
        pdf = np.exp(-0.5 * d * d) / np.sqrt(2 * np.pi)
        return Tensor._make((d * cdf).astype(x.dtype), (x,), lambda g: (g * (cdf + d * pdf),))
    if approximate != "tanh":
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    inner = SQRT_2_OVER_PI * (d + 0.044715 * d**3)
    t = np.tanh(inner)
    dinner = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * d * d)
    out = 0.5 * d * (1 + t)
    return Tensor._make(
        out.astype(x.dtype), (x,), lambda g: (g * (0.5 * (1 + t) + 0.5 * d * (1 - t * t) * dinner),)
    )


def silu(x: Tensor) -> Tensor:
    d = x.data
    s = _sigmoid(d)
    return Tensor._make(d * s, (x,), lambda g: (g * s * (1 + d * (1 - s)),))


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (torch's convention)."""
    d = x.data
    z = beta * d
    linear = z > threshold
    out = np.where(linear, d, np.logaddexp(0, z) / beta)
    return Tensor._make(out.astype(x.dtype), (x,), lambda g: (g * np.where(linear, 1.0, _sigmoid(z)),))


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x - max) / sum: subtracting the max keeps exp from overflowing."""
    e = np.exp(x.data - x.data.max(axis=axis, keepdims=True))
    p = e / e.sum(axis=axis, keepdims=True)
    # d softmax: p * (g - sum(g p))
    return Tensor._make(p, (x,), lambda g: (p * (g - (g * p).sum(axis=axis, keepdims=True)),))


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x - logsumexp(x), computed with the max shifted out."""
    shifted = x.data - x.data.max(axis=axis, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    p = np.exp(out)
    return Tensor._make(out, (x,), lambda g: (g - p * g.sum(axis=axis, keepdims=True),))


def logsumexp(x: Tensor, axis: int = -1, keepdims: bool = False) -> Tensor:
    m = x.data.max(axis=axis, keepdims=True)
    e = np.exp(x.data - m)
    s = e.sum(axis=axis, keepdims=True)
    out = np.log(s) + m
    p = e / s

    def backward(g):
        return ((g if keepdims else np.expand_dims(g, axis)) * p,)

    return Tensor._make(out if keepdims else np.squeeze(out, axis), (x,), backward)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ W^T + b with W of shape (out, in), as torch.nn.functional.linear."""
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input shape {x.shape} does not match weight shape {weight.shape}")
    out = x @ weight.T  # (..., out)
    return out + bias if bias is not None else out


def embedding(indices, weight: Tensor) -> Tensor:
    """Rows of `weight` (num, dim) picked by integer `indices` of any shape -> (*indices.shape, dim)."""
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu":
        raise ValueError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= weight.shape[0]):
        raise ValueError(
            f"embedding: indices must be in [0, {weight.shape[0]}), got {idx.min()}..{idx.max()}"
        )
    return weight[idx]


def dropout(
    x: Tensor, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None
) -> Tensor:
    """Zero each entry with probability p and scale survivors by 1/(1-p) (inverted dropout)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0.0
    rng = rng if rng is not None else np.random.default_rng()
    scale = ((rng.random(x.shape) >= p) / (1 - p)).astype(x.dtype)
    return x * scale
