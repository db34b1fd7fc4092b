"""Weight initializers: keep activation variance stable through depth.

Xavier/Glorot (2010): Var(w) = 2 / (fan_in + fan_out), for tanh/sigmoid nets.
Kaiming/He (2015): Var(w) = gain^2 / fan, gain = sqrt(2) for ReLU.
Orthogonal (Saxe et al. 2014): a random orthogonal matrix (QR of a Gaussian), scaled by `gain`.
Each fills `tensor.data` in place from a NumPy generator and returns the tensor.
"""

from __future__ import annotations

import math

import numpy as np

from groundup.grad.tensor import Tensor


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) for a weight of shape (out, in, *kernel)."""
    if len(shape) < 2:
        raise ValueError(f"fan in/out need at least 2 dimensions, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    gains = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0)}
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity not in gains:
        raise ValueError(
            f"unknown nonlinearity {nonlinearity!r}; choose one of {sorted(gains)} or leaky_relu"
        )
    return gains[nonlinearity]


def _rng(rng):
    return rng if rng is not None else np.random.default_rng()


def _fill(t: Tensor, values: np.ndarray) -> Tensor:
    t.data = values.astype(t.dtype)
    return t


def uniform_(t: Tensor, low: float, high: float, rng=None) -> Tensor:
    return _fill(t, _rng(rng).uniform(low, high, t.shape))


def xavier_uniform_(t: Tensor, gain: float = 1.0, rng=None) -> Tensor:
    fan_in, fan_out = fans(t.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound, rng)


def xavier_normal_(t: Tensor, gain: float = 1.0, rng=None) -> Tensor:
    fan_in, fan_out = fans(t.shape)
    return _fill(t, _rng(rng).normal(0, gain * math.sqrt(2.0 / (fan_in + fan_out)), t.shape))


def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity="leaky_relu", rng=None):
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(t, mode))
    return uniform_(t, -math.sqrt(3.0) * std, math.sqrt(3.0) * std, rng)


def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity="leaky_relu", rng=None):
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(t, mode))
    return _fill(t, _rng(rng).normal(0, std, t.shape))


def _fan(t: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return fans(t.shape)[0 if mode == "fan_in" else 1]


def orthogonal_(t: Tensor, gain: float = 1.0, rng=None) -> Tensor:
    """Rows (or columns, whichever are fewer) orthonormal; extra dims are flattened into columns."""
    rows = t.shape[0]
    cols = t.size // rows
    a = _rng(rng).normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))  # make the decomposition unique (uniform over orthogonal matrices)
    if rows < cols:
        q = q.T
    return _fill(t, gain * q.reshape(t.shape))
