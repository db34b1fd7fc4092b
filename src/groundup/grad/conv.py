"""2-D convolution and pooling by im2col: every output pixel's receptive field becomes a row, so the
convolution is one batched matrix product (the way BLAS-backed frameworks do it on CPU).

Windows come from `sliding_window_view` (a strided view, no copy) of the padded input; stride and
dilation are slices of that view. The backward pass of im2col ("col2im") scatters each kernel tap
back with kh * kw strided additions.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from groundup.grad.tensor import Tensor


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _windows(xp: np.ndarray, k, stride, dilation) -> np.ndarray:
    """(N, C, Hp, Wp) -> (N, C, Ho, Wo, kh, kw) strided view of the receptive fields."""
    (kh, kw), (sh, sw), (dh, dw) = k, stride, dilation
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if xp.shape[2] < span_h or xp.shape[3] < span_w:
        raise ValueError(f"kernel span {(span_h, span_w)} is larger than the padded input {xp.shape[2:]}")
    view = sliding_window_view(xp, (span_h, span_w), axis=(2, 3))
    return view[:, :, ::sh, ::sw, ::dh, ::dw]


def _col2im(taps: np.ndarray, padded_shape, stride, dilation) -> np.ndarray:
    """Adjoint of `_windows`: taps (kh, kw, N, C, Ho, Wo) -> (N, C, Hp, Wp), summing overlaps.

    Tap-major layout keeps each of the kh * kw strided additions reading contiguous memory.
    """
    kh, kw, _, _, ho, wo = taps.shape
    (sh, sw), (dh, dw) = stride, dilation
    out = np.zeros(padded_shape, taps.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i * dh : i * dh + sh * (ho - 1) + 1 : sh, j * dw : j * dw + sw * (wo - 1) + 1 : sw] += (
                taps[i, j]
            )
    return out


def _pad(x: np.ndarray, padding, value=0.0) -> np.ndarray:
    ph, pw = padding
    if ph == pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def conv2d(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1, groups: int = 1
) -> Tensor:
    """x (N, C, H, W), weight (O, C/groups, kh, kw) -> (N, O, Ho, Wo), as torch.nn.functional.conv2d."""
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"conv2d: expected 4-D input and weight, got shapes {x.shape} and {weight.shape}")
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    if c % groups or o % groups or cg != c // groups:
        raise ValueError(
            f"conv2d: input shape {x.shape} and weight shape {weight.shape} do not fit groups={groups} "
            f"(need weight.shape[1] == channels / groups)"
        )
    g, og = groups, o // groups
    xp = _pad(x.data, padding)
    win = _windows(xp, (kh, kw), stride, dilation)  # (N, C, Ho, Wo, kh, kw) view
    ho, wo = win.shape[2:4]
    # im2col: columns = output pixels, rows = (channel-in-group, kh, kw) taps; one copy
    cols = (
        win.reshape(n, g, cg, ho, wo, kh, kw)
        .transpose(0, 1, 2, 5, 6, 3, 4)
        .reshape(n, g, cg * kh * kw, ho * wo)
    )
    wmat = weight.data.reshape(g, og, cg * kh * kw)  # (G, Og, K)
    out = (wmat @ cols).reshape(n, o, ho, wo)  # (N, G, Og, Ho*Wo) is already (N, O, Ho, Wo) in memory
    if bias is not None:
        out = out + bias.data.reshape(1, o, 1, 1)

    def backward(grad):
        gmat = grad.reshape(n, g, og, ho * wo)  # (N, G, Og, Ho*Wo)
        gw = (
            (gmat @ cols.transpose(0, 1, 3, 2)).sum(axis=0).reshape(o, cg, kh, kw)
        )  # (G, Og, K) summed over N
        gb = grad.sum(axis=(0, 2, 3)) if bias is not None else None
        if not x.requires_grad:  # e.g. the first layer: skip the input gradient entirely
            return None, gw, gb
        gcols = wmat.transpose(0, 2, 1) @ gmat  # (N, G, K, Ho*Wo)
        taps = (
            gcols.reshape(n, g, cg, kh, kw, ho, wo)
            .transpose(3, 4, 0, 1, 2, 5, 6)
            .reshape(kh, kw, n, c, ho, wo)
        )
        gx = _col2im(taps, xp.shape, stride, dilation)
        gx = gx[:, :, padding[0] : padding[0] + h, padding[1] : padding[1] + w]
        return gx, gw, gb

    parents = (x, weight) if bias is None else (x, weight, bias)
    return Tensor._make(out, parents, backward)


def _max_and_argmax(win: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Max over the last two axes of a window view and the index of the first maximal tap (torch's
    tie rule). One pass over the kh * kw strided tap views: no copy of the windows, and much faster
    than `argmax` along a non-contiguous axis."""
    kh, kw = win.shape[-2:]
    best = win[..., 0, 0].copy()
    arg = np.zeros(best.shape, np.int32)
    for t in range(1, kh * kw):
        tap = win[..., t // kw, t % kw]
        np.putmask(arg, tap > best, t)  # strict: an equal later tap keeps the earlier index
        np.maximum(best, tap, out=best)
    return best, arg


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0, dilation=1) -> Tensor:
    """Max over each window; the gradient goes to the (first) maximal entry, as in torch."""
    k = _pair(kernel_size)
    stride, padding, dilation = (
        _pair(stride if stride is not None else kernel_size),
        _pair(padding),
        _pair(dilation),
    )
    xp = _pad(x.data, padding, value=-np.inf)
    win = _windows(xp, k, stride, dilation)  # (N, C, Ho, Wo, kh, kw) view
    out, arg = _max_and_argmax(win)  # (N, C, Ho, Wo) each
    h, w = x.shape[2:]

    def backward(grad):
        onehot = (np.arange(k[0] * k[1]).reshape(-1, 1, 1, 1, 1) == arg) * grad  # (kh*kw, N, C, Ho, Wo)
        gx = _col2im(onehot.reshape(k + grad.shape), xp.shape, stride, dilation)
        return (gx[:, :, padding[0] : padding[0] + h, padding[1] : padding[1] + w],)

    return Tensor._make(out, (x,), backward)


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    """Mean over each window; zero padding counts toward the mean (torch's count_include_pad=True)."""
    k = _pair(kernel_size)
    stride, padding = _pair(stride if stride is not None else kernel_size), _pair(padding)
    xp = _pad(x.data, padding)
    win = _windows(xp, k, stride, (1, 1))
    out = win.mean(axis=(-2, -1))
    h, w = x.shape[2:]
    area = k[0] * k[1]

    def backward(grad):
        taps = np.broadcast_to(grad / area, k + grad.shape)  # every tap gets grad / area
        gx = _col2im(taps, xp.shape, stride, (1, 1))
        return (gx[:, :, padding[0] : padding[0] + h, padding[1] : padding[1] + w],)

    return Tensor._make(out.astype(x.dtype), (x,), backward)
