"""SmoothQuant (Xiao et al. 2022, arXiv:2211.10438): W8A8 for LLMs by moving activation outliers into
the weights.

LLM activations have a few channels with huge magnitudes; per-token INT8 quantization of x then wastes
its grid on them. Dividing channel j of x by s_j and multiplying column j of W by s_j keeps y = W x but
migrates the difficulty from activations to weights, with strength α:

    s_j = max|X_j|^α / max|W_{:,j}|^(1-α)            (max|W_{:,j}| over all Linears sharing x)

α = 0 leaves activations alone, α = 1 makes every activation channel equally large. The division is
folded into the RMSNorm/LayerNorm weight in front (nothing to compute at run time). Then

    weights:     symmetric INT8 per output channel (static)
    activations: symmetric INT8 per token, scale = max|x_t| / 127 computed at every forward (dynamic)
    y = (x_q · W_qᵀ) · s_x · s_w                      (an integer GEMM rescaled once per output)

Only Linears right after a norm can be smoothed for free (q/k/v, gate/up); o and down are still W8A8.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from groundup.quant.affine import QScheme, quantize
from groundup.quant.llm.arch import decoder_blocks, set_module
from groundup.quant.llm.awq import fold_scale
from groundup.quant.llm.calibration import on_inputs

INT8_MAX = 127


def smoothing_factors(act_absmax: torch.Tensor, weights: list[torch.Tensor], alpha: float) -> torch.Tensor:
    """s (in,) from per-channel activation max |x| (in,) and the Linears' weights (out, in)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha (migration strength) must be in [0, 1], got {alpha}")
    w_absmax = torch.stack([w.detach().abs().amax(dim=0) for w in weights]).amax(dim=0).float()  # (in,)
    s = act_absmax.float().clamp(min=1e-5).pow(alpha) / w_absmax.clamp(min=1e-5).pow(1 - alpha)
    return s.clamp(min=1e-5)


def smooth(norm: nn.Module, linears: list[nn.Linear], act_absmax: torch.Tensor, alpha: float) -> torch.Tensor:
    """Fold the smoothing factors into `norm` and `linears` in place (function-preserving); returns s."""
    s = smoothing_factors(act_absmax, [linear.weight for linear in linears], alpha)
    fold_scale(norm, linears, s)
    return s


def quantize_per_token(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (..., in) -> int8-valued codes (float dtype) and scales (..., 1): symmetric, one scale per token."""
    scale = (x.abs().amax(dim=-1, keepdim=True) / INT8_MAX).clamp(min=1e-8)
    return torch.round(x / scale).clamp(-INT8_MAX, INT8_MAX), scale


class W8A8Linear(nn.Module):
    """INT8 weights (per output channel) times INT8 activations (per token, dynamic).

    The integer GEMM is computed in float32 on integer values, which is exact while a dot product stays
    below 2^24 (in_features · 127² — exact up to in = 1040, a relative error below 1e-7 beyond).
    """

    def __init__(self, codes: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        self.out_features, self.in_features = codes.shape
        self.register_buffer("weight_codes", codes)  # (out, in) int8
        self.register_buffer("weight_scale", scale)  # (out,) float32
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(), requires_grad=False)

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> W8A8Linear:
        """Symmetric INT8 per output channel, codes in [-127, 127]."""
        scheme = QScheme(bits=8, symmetric=True, signed=True, restricted=True, granularity="channel", axis=0)
        qt = quantize(linear.weight.detach().float(), scheme)
        return cls(qt.q, qt.scale.reshape(-1), linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_codes, x_scale = quantize_per_token(x.float())  # (..., in), (..., 1)
        acc = F.linear(x_codes, self.weight_codes.float())  # (..., out) integer-valued
        y = acc * x_scale * self.weight_scale
        if self.bias is not None:
            y = y + self.bias
        return y.to(x.dtype)

    def nbytes(self) -> int:
        return self.weight_codes.numel() + self.weight_scale.numel() * 4

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, W8A8 per-channel/per-token"


@torch.no_grad()
def smoothquant_model(
    model: nn.Module, windows: torch.Tensor, alpha: float = 0.5, *, quantize: bool = True, batch_size: int = 4
) -> nn.Module:
    """Calibrate per-channel activation maxima on the float model, smooth q/k/v and gate/up into their
    norms with strength `alpha`, then turn every block Linear into a W8A8Linear (in place).
    `quantize=False` stops after smoothing: the model then computes the same function (a check)."""
    blocks = decoder_blocks(model)
    firsts = {
        f"{i}.{role}": b.parts[role] for i, b in enumerate(blocks) for role in (b.attn_in[0], b.mlp_in[0])
    }
    absmax: dict[str, torch.Tensor] = {}

    def record(name: str, x: torch.Tensor) -> None:
        m = x.abs().amax(dim=0).float()  # (in,)
        absmax[name] = m if name not in absmax else torch.maximum(absmax[name], m)

    with on_inputs(firsts, record):
        for start in range(0, windows.shape[0], batch_size):
            model(windows[start : start + batch_size])
    for i, block in enumerate(blocks):
        smooth(
            block.parts["attn_norm"],
            [block.parts[r] for r in block.attn_in],
            absmax[f"{i}.{block.attn_in[0]}"],
            alpha,
        )
        smooth(
            block.parts["mlp_norm"],
            [block.parts[r] for r in block.mlp_in],
            absmax[f"{i}.{block.mlp_in[0]}"],
            alpha,
        )
        for role, linear in block.linears().items() if quantize else ():
            set_module(model, block.paths[role], W8A8Linear.from_linear(linear))
    return model
