"""Tensor ops that take several tensors or a condition: concatenate/stack/split, pad, where, clip, maximum."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from groundup.grad.tensor import Tensor, _raw, broadcast_shape


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    shapes = [t.shape for t in tensors]
    try:
        out = np.concatenate([t.data for t in tensors], axis=axis)
    except ValueError:
        raise ValueError(f"concatenate: shapes {shapes} differ outside axis {axis}") from None
    bounds = np.cumsum([s[axis] for s in shapes])[:-1]
    return Tensor._make(out, tuple(tensors), lambda g: tuple(np.split(g, bounds, axis=axis)))


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all shapes must be equal, got {sorted(shapes)}")
    return concatenate([t.unsqueeze(axis) for t in tensors], axis=axis)


def split(x: Tensor, sections: int | Sequence[int], axis: int = 0) -> list[Tensor]:
    """`sections` = size of each piece (int, torch's convention) or a list of sizes."""
    n = x.shape[axis]
    sizes = (
        [sections] * (n // sections) + ([n % sections] if n % sections else [])
        if isinstance(sections, int)
        else list(sections)
    )
    if sum(sizes) != n:
        raise ValueError(f"split: sizes {sizes} do not add up to {n} (axis {axis} of shape {x.shape})")
    starts = np.concatenate([[0], np.cumsum(sizes)])
    prefix = (slice(None),) * (axis % x.ndim)
    return [x[prefix + (slice(int(s), int(e)),)] for s, e in zip(starts[:-1], starts[1:])]


def pad(x: Tensor, widths: Sequence[tuple[int, int]], value: float = 0.0) -> Tensor:
    """Constant padding; `widths` has one (before, after) pair per axis (NumPy's convention)."""
    widths = [tuple(w) for w in widths]
    if len(widths) != x.ndim:
        raise ValueError(f"pad: got {len(widths)} (before, after) pairs for a tensor of shape {x.shape}")
    inner = tuple(slice(b, b + n) for (b, _), n in zip(widths, x.shape))
    out = np.pad(x.data, widths, mode="constant", constant_values=value)
    return Tensor._make(out, (x,), lambda g: (g[inner],))


def where(condition, a, b) -> Tensor:
    cond = np.asarray(_raw(condition), dtype=bool)
    a = a if isinstance(a, Tensor) else Tensor(np.asarray(a, b.dtype if isinstance(b, Tensor) else None))
    b = b if isinstance(b, Tensor) else Tensor(np.asarray(b, a.dtype))
    broadcast_shape("where", a.shape, b.shape)
    return Tensor._make(
        np.where(cond, a.data, b.data), (a, b), lambda g: (np.where(cond, g, 0), np.where(cond, 0, g))
    )


def clip(x: Tensor, low: float | None = None, high: float | None = None) -> Tensor:
    """Clamp to [low, high]; the gradient passes where low <= x <= high (torch.clamp)."""
    d = x.data
    mask = np.ones(d.shape, bool)
    if low is not None:
        mask &= d >= low
    if high is not None:
        mask &= d <= high
    return Tensor._make(np.clip(d, low, high), (x,), lambda g: (g * mask,))


def maximum(a: Tensor, b: Tensor) -> Tensor:
    """Elementwise max; ties split the gradient in half (torch.maximum)."""
    b = a._lift(b)
    broadcast_shape("maximum", a.shape, b.shape)
    x, y = a.data, b.data
    wa = (x > y) + 0.5 * (x == y)
    return Tensor._make(np.maximum(x, y), (a, b), lambda g: (g * wa, g * (1 - wa)))
