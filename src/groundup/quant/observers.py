"""Observers: watch tensors during calibration and choose the range [lo, hi] a quantizer maps to codes.

    MinMaxObserver               running min / max                       (torch.ao MinMaxObserver)
    MovingAverageMinMaxObserver  lo ← lo + c·(batch_min - lo), same for hi (torch.ao's, c = 0.01)
    PercentileObserver           the p-th percentile of |x| (clips the rarest outliers)
    MSEObserver                  the clipping ratio α·range that minimises ‖x - dq(q(x))‖²
    EntropyObserver              TensorRT's KL-divergence calibration on a histogram of |x|

Min-max observers work at any granularity of their QScheme; the sample-based ones (percentile, MSE,
entropy) keep a bounded random sample of the values and choose one symmetric range per tensor.
Asking for a range before anything was observed is an empty calibration set: ValueError.
"""

from __future__ import annotations

import numpy as np
import torch

from groundup.quant.affine import (
    QScheme,
    calc_qparams,
    dequantize_affine,
    minmax,
    quantize_affine,
    reduce_dims,
    to_groups,
)
from groundup.quant.checks import check_finite
from groundup.quant.entropy import kl_threshold


class Observer:
    """Base class: `observe(x)` during calibration, then `range()` / `qparams()`."""

    def __init__(self, scheme: QScheme | None = None) -> None:
        self.scheme = scheme or QScheme()
        self.lo: torch.Tensor | None = None
        self.hi: torch.Tensor | None = None

    def observe(self, x: torch.Tensor) -> torch.Tensor:
        check_finite(x)
        if x.numel() == 0:
            raise ValueError("observed tensor is empty; calibration batches must hold at least one value")
        self._update(x.detach().float())
        return x

    __call__ = observe

    def _update(self, x: torch.Tensor) -> None:
        raise NotImplementedError

    def range(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.lo is None:
            raise ValueError(
                f"{type(self).__name__} has observed nothing: the calibration set is empty; "
                "run at least one batch through the model before converting it"
            )
        return self.lo, self.hi

    def qparams(self) -> tuple[torch.Tensor, torch.Tensor]:
        return calc_qparams(*self.range(), self.scheme)


class MinMaxObserver(Observer):
    """The smallest and largest value ever seen: no clipping, so one outlier stretches every step."""

    def _update(self, x):
        lo, hi = minmax(x, self.scheme)
        self.lo = lo if self.lo is None else torch.minimum(self.lo, lo)
        self.hi = hi if self.hi is None else torch.maximum(self.hi, hi)


class MovingAverageMinMaxObserver(Observer):
    """Exponential moving average of each batch's min / max (the first batch sets them directly)."""

    def __init__(self, scheme: QScheme | None = None, averaging_constant: float = 0.01) -> None:
        super().__init__(scheme)
        if not 0 < averaging_constant <= 1:
            raise ValueError(f"averaging_constant must be in (0, 1], got {averaging_constant}")
        self.c = averaging_constant

    def _update(self, x):
        lo, hi = minmax(x, self.scheme)
        if self.lo is None:
            self.lo, self.hi = lo, hi
        else:
            self.lo = self.lo + self.c * (lo - self.lo)
            self.hi = self.hi + self.c * (hi - self.hi)


class SampleObserver(Observer):
    """Keeps up to `max_samples` values (a random subset per batch) and chooses one range from them."""

    def __init__(self, scheme: QScheme | None = None, max_samples: int = 1 << 20, seed: int = 0) -> None:
        super().__init__(scheme)
        self.max_samples = max_samples
        self.samples: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def _update(self, x):
        flat = x.reshape(-1)
        if flat.numel() > self.max_samples:
            flat = flat[torch.randperm(flat.numel(), generator=self.generator)[: self.max_samples]]
        self.samples.append(flat)
        values = torch.cat(self.samples)
        if values.numel() > self.max_samples:
            values = values[torch.randperm(values.numel(), generator=self.generator)[: self.max_samples]]
        self.samples = [values]
        self.lo = self.hi = None  # chosen lazily: the search runs once, after the last batch

    def range(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.lo is None and self.samples:
            values = self.samples[0]
            lo, hi = self._choose(values)
            # a ±t choice never reaches past the data: a ReLU output keeps [0, t], not [-t, t]
            self.lo, self.hi = torch.maximum(lo, values.min()), torch.minimum(hi, values.max())
        return super().range()

    def _choose(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class PercentileObserver(SampleObserver):
    """Range ±(p-th percentile of |x|), e.g. p = 99.99: the top 0.01% of magnitudes get clipped."""

    def __init__(self, scheme: QScheme | None = None, percentile: float = 99.99, **kwargs) -> None:
        super().__init__(scheme, **kwargs)
        if not 0 < percentile <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {percentile}")
        self.percentile = percentile

    def _choose(self, values):
        t = torch.quantile(values.abs().double(), self.percentile / 100).float()
        return -t, t


class MSEObserver(SampleObserver):
    """Range α·[min, max] with α from a grid over (0, 1] minimising the quantize-dequantize MSE."""

    def __init__(self, scheme: QScheme | None = None, grid: int = 100, **kwargs) -> None:
        super().__init__(scheme, **kwargs)
        self.grid = grid

    def _choose(self, values):
        return mse_optimal_range(values, self.scheme.with_(granularity="tensor"), self.grid)


class EntropyObserver(SampleObserver):
    """Symmetric range ±t with t chosen by TensorRT's KL-divergence search (see quant/entropy.py)."""

    def __init__(self, scheme: QScheme | None = None, bins: int = 2048, **kwargs) -> None:
        super().__init__(scheme, **kwargs)
        self.bins = bins

    def _choose(self, values):
        levels = 2 ** (self.scheme.bits - 1)  # magnitudes on one side of zero
        t = torch.tensor(kl_threshold(values.abs().numpy().astype(np.float64), self.bins, levels))
        return -t.float(), t.float()


def mse_optimal_range(x: torch.Tensor, scheme: QScheme, grid: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """Per scale-group best clipping: try α = 1/grid .. 1 times the min/max range, keep the lowest MSE.

    Works at every granularity: each channel (or group) picks its own α. Returns (lo, hi) shaped like
    `minmax(x, scheme)`.
    """
    check_finite(x)
    lo, hi = minmax(x, scheme)
    xv = to_groups(x, scheme.group_size) if scheme.granularity == "group" else x
    xv = xv.float()
    dims = reduce_dims(xv, scheme)
    keep = scheme.granularity != "tensor"
    best_err = torch.full_like(lo, float("inf"))
    best_lo, best_hi = lo.clone(), hi.clone()
    for alpha in torch.linspace(1.0 / grid, 1.0, grid):
        c_lo, c_hi = lo * alpha, hi * alpha
        scale, zero = calc_qparams(c_lo, c_hi, scheme)
        x_hat = dequantize_affine(quantize_affine(xv, scale, zero, scheme.qmin, scheme.qmax), scale, zero)
        err = ((xv - x_hat) ** 2).sum(dim=dims, keepdim=keep)
        better = err < best_err
        best_err = torch.where(better, err, best_err)
        best_lo, best_hi = torch.where(better, c_lo, best_lo), torch.where(better, c_hi, best_hi)
    return best_lo, best_hi


OBSERVERS = {
    "minmax": MinMaxObserver,
    "moving_average": MovingAverageMinMaxObserver,
    "percentile": PercentileObserver,
    "mse": MSEObserver,
    "entropy": EntropyObserver,
}


def make_observer(name: str, scheme: QScheme | None = None, **kwargs) -> Observer:
    """An observer by name: one of OBSERVERS."""
    if name not in OBSERVERS:
        raise ValueError(f"observer must be one of {tuple(OBSERVERS)}, got {name!r}")
    return OBSERVERS[name](scheme, **kwargs)
