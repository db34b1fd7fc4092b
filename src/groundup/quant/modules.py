"""Swappable quantized layers: QuantLinear and QuantConv2d replace nn.Linear / nn.Conv2d.

Three ways to run, chosen by QuantConfig.mode:

    "fake"  float math on fake-quantized weight and activation (STE gradients): PTQ simulation and QAT
    "int"   integer execution: int8 codes, int8 GEMM with int32 accumulation, one float rescale
            (weight-only int8 uses torch's fused weight-int8 kernel on float activations)

Activation ranges come from an observer filled by a calibration pass (static PTQ), from each batch's
own min/max at run time (`dynamic=True`, dynamic PTQ), or from a moving-average observer updated while
training (QAT). A config with `activation=None` quantizes weights only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from groundup.quant.affine import QScheme, calc_qparams, minmax, quantize_affine
from groundup.quant.fake_quant import fake_quantize, fake_quantize_affine
from groundup.quant.kernels import quantized_conv2d, quantized_linear, weight_only_int8_linear
from groundup.quant.observers import make_observer, mse_optimal_range

MODES = ("fake", "int")


@dataclass(frozen=True)
class QuantConfig:
    """What to quantize and how. Weights: symmetric per output channel by default; activations: per tensor."""

    weight: QScheme = field(default_factory=lambda: QScheme(bits=8, granularity="channel", axis=0))
    activation: QScheme | None = field(default_factory=lambda: QScheme(bits=8, symmetric=False))
    mode: str = "fake"
    dynamic: bool = False
    observer: str = "minmax"
    weight_range: str = "minmax"
    skip: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.weight_range not in ("minmax", "mse"):
            raise ValueError(f"weight_range must be 'minmax' or 'mse', got {self.weight_range!r}")
        if self.mode == "int" and not (self.weight.symmetric and self.weight.signed):
            raise ValueError(
                "mode 'int' needs a signed symmetric weight scheme (zero-point 0); set weight.symmetric=True, signed=True"
            )
        if self.mode == "int" and self.weight.granularity == "group":
            raise ValueError("mode 'int' supports weight granularity 'tensor' or 'channel', not 'group'")
        if self.activation is not None and self.activation.granularity != "tensor":
            raise ValueError("activation granularity must be 'tensor' (one range per batch tensor)")
        make_observer(self.observer)  # validates the name


def weight_qparams(w: torch.Tensor, config: QuantConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and zero-point of a weight: its min/max, or the MSE-optimal clipping range."""
    scheme = config.weight
    lo, hi = mse_optimal_range(w, scheme) if config.weight_range == "mse" else minmax(w, scheme)
    return calc_qparams(lo, hi, scheme)


class _QuantLayer(nn.Module):
    """Shared state: config, activation observer and the frozen activation (scale, zero) buffers."""

    def _setup(self, config: QuantConfig, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        self.config = config
        self.calibrating = False
        self.observer = make_observer(config.observer, config.activation) if config.activation else None
        self.register_buffer("act_scale", None)
        self.register_buffer("act_zero", None)
        if config.mode == "fake":
            self.weight = nn.Parameter(weight.detach().clone())
        else:
            w_scale, w_zero = weight_qparams(weight.detach(), config)
            codes = quantize_affine(weight.detach(), w_scale, w_zero, config.weight.qmin, config.weight.qmax)
            self.register_buffer("weight_q", codes.to(torch.int8))
            self.register_buffer("weight_scale", w_scale)
            # Σ_k W_q[n, k] per output: the activation zero-point correction, computed once
            self.register_buffer(
                "weight_rowsum", codes.to(torch.int32).flatten(1).sum(dim=1, dtype=torch.int32)
            )
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())

    def quantized_weight(self) -> torch.Tensor:
        """The float weight the layer computes with (fake-quantized, or dequantized int codes)."""
        if self.config.mode == "fake":
            scale, zero = weight_qparams(self.weight, self.config)
            return fake_quantize(self.weight, self.config.weight, scale, zero)
        return self.weight_q.float() * self.weight_scale

    def act_qparams(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Activation (scale, zero): per batch when dynamic, else from the observer (updated in QAT)."""
        scheme = self.config.activation
        if self.config.dynamic:
            return calc_qparams(*minmax(x, scheme), scheme)
        if self.training and self.config.mode == "fake":
            self.observer.observe(x)
            return self.observer.qparams()
        if self.act_scale is None:
            if self.observer.lo is not None:  # QAT model evaluated before convert(): use the running range
                return self.observer.qparams()
            raise ValueError(
                f"{type(self).__name__} has no activation range: run groundup.quant.calibrate(model, batches) "
                "first, or use dynamic=True"
            )
        return self.act_scale, self.act_zero

    def freeze(self) -> None:
        """Fix the activation range from what the observer saw (end of calibration or of QAT)."""
        if self.observer is not None and not self.config.dynamic:
            scale, zero = self.observer.qparams()
            self.act_scale, self.act_zero = scale.reshape(()), zero.reshape(())

    def act_fake(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.activation is None:
            return x
        if self.calibrating:
            self.observer.observe(x)
            return x
        scale, zero = self.act_qparams(x)
        return fake_quantize_affine(x, scale, zero, self.config.activation.qmin, self.config.activation.qmax)

    def act_codes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scale, zero = self.act_qparams(x)
        a = self.config.activation
        return quantize_affine(x, scale, zero, a.qmin, a.qmax), scale, zero

    def int_path(self, x: torch.Tensor) -> bool:
        """Integer execution once calibrated; the calibration pass itself runs in float."""
        return self.config.mode == "int" and not self.calibrating

    def weight_nbytes(self) -> int:
        """Bytes of the weight if codes were bit-packed, plus scales (and zero-points) and a float bias."""
        w = self.weight if self.config.mode == "fake" else self.weight_q
        n_scales = 1 if self.config.weight.granularity == "tensor" else w.shape[0]
        zeros = 0 if self.config.weight.symmetric else n_scales
        bias = 0 if self.bias is None else self.bias.numel() * 4
        return (w.numel() * self.config.weight.bits + 7) // 8 + n_scales * 4 + zeros + bias


class QuantLinear(_QuantLayer):
    """nn.Linear with quantized weight (and activation); build with `QuantLinear.from_float`."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, config: QuantConfig) -> None:
        super().__init__()
        self.in_features, self.out_features = weight.shape[1], weight.shape[0]
        self._setup(config, weight, bias)

    @classmethod
    def from_float(cls, linear: nn.Linear, config: QuantConfig | None = None) -> QuantLinear:
        return cls(linear.weight, linear.bias, config or QuantConfig())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (..., in) -> (..., out)
        if self.int_path(x):
            if self.config.activation is None:
                return weight_only_int8_linear(x, self.weight_q, self.weight_scale, self.bias)
            x_q, scale, zero = self.act_codes(x)
            return quantized_linear(
                x_q, scale, zero, self.weight_q, self.weight_scale, self.bias, self.weight_rowsum
            )
        return F.linear(self.act_fake(x), self.quantized_weight(), self.bias)

    def extra_repr(self) -> str:
        a = self.config.activation
        return f"{self.in_features}, {self.out_features}, mode={self.config.mode}, w{self.config.weight.bits}a{a.bits if a else 'float'}"


class QuantConv2d(_QuantLayer):
    """nn.Conv2d with quantized weight (and activation); groups=1 for integer execution."""

    def __init__(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        config: QuantConfig,
        stride: tuple[int, int] = (1, 1),
        padding: tuple[int, int] = (0, 0),
        dilation: tuple[int, int] = (1, 1),
        groups: int = 1,
    ) -> None:
        super().__init__()
        if config.mode == "int" and groups != 1:
            raise ValueError(f"mode 'int' supports groups=1 convolutions, got groups={groups}")
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self._setup(config, weight, bias)

    @classmethod
    def from_float(cls, conv: nn.Conv2d, config: QuantConfig | None = None) -> QuantConv2d:
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError("QuantConv2d supports numeric zero padding only (padding_mode='zeros')")
        geometry = dict(stride=conv.stride, padding=conv.padding, dilation=conv.dilation, groups=conv.groups)
        return cls(conv.weight, conv.bias, config or QuantConfig(), **geometry)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, O, H', W')
        if self.int_path(x) and self.config.activation is not None:
            x_q, scale, zero = self.act_codes(x)
            return quantized_conv2d(
                x_q,
                scale,
                zero,
                self.weight_q,
                self.weight_scale,
                self.bias,
                self.stride,
                self.padding,
                self.dilation,
            )
        x = x if self.int_path(x) else self.act_fake(x)
        return F.conv2d(
            x, self.quantized_weight(), self.bias, self.stride, self.padding, self.dilation, self.groups
        )
