"""RoPE scaling: how rotary frequencies are stretched so a model trained on L tokens reads s * L.

Rotary pair i turns by the angle p * w_i at position p, with w_i = theta^(-2i/D) (`RotaryEmbedding`).
A model trained on positions < L has only seen the angles p * w_i for p < L; the schemes differ in
which frequencies they slow down to keep longer contexts inside that range (factor s):

    default   w_i                                     no scaling
    linear    w_i / s                                 position interpolation (Chen et al. 2023): every
                                                      pair slowed, so p * s lands where p was
    ntk       theta' = theta * s^(D / (D - 2))        "NTK-aware" (bloc97 2023): a larger base slows the
                                                      low frequencies (long wavelengths) by about s and
                                                      leaves the fastest pair (i = 0) untouched
    dynamic   ntk with s' = s * T / L - (s - 1)       dynamic NTK: the base grows with the current length
                                                      T (no change while T <= L; equals `ntk` with
                                                      factor s' at length T)
    yarn      per-pair blend of w_i and w_i / s       YaRN (Peng et al. 2023): pairs that turn more than
                                                      beta_fast times over L keep w_i, those that turn
                                                      fewer than beta_slow times get w_i / s, a linear
                                                      ramp between; logits are sharpened by scaling
                                                      cos/sin by 0.1 ln(s) + 1
    llama3    per-wavelength blend                    Llama 3.1: wavelengths above L / low_freq_factor
                                                      get w_i / s, below L / high_freq_factor keep w_i,
                                                      a smooth blend in between

`rope_frequencies(head_dim, theta, scaling, seq_len)` returns (inverse frequencies (D/2,), attention
factor); `RotaryEmbedding(..., rope_scaling=RopeScaling(...))` builds its tables from it. The tests
compare every kind with transformers' `ROPE_INIT_FUNCTIONS` on the same configuration.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

KINDS = ("default", "linear", "ntk", "dynamic", "yarn", "llama3")


@dataclass(frozen=True)
class RopeScaling:
    """One scaling scheme and its parameters; `original_max_positions` is the training context L."""

    kind: str = "default"
    factor: float = 1.0
    original_max_positions: int = 2048
    low_freq_factor: float = 1.0  # llama3
    high_freq_factor: float = 4.0  # llama3
    beta_fast: float = 32.0  # yarn: pairs turning more often than this over L keep their frequency
    beta_slow: float = 1.0  # yarn: pairs turning less often than this are fully interpolated
    attention_factor: float | None = None  # yarn: default 0.1 ln(factor) + 1

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.factor < 1.0:
            raise ValueError(f"factor must be >= 1, got {self.factor}")
        if self.original_max_positions < 1:
            raise ValueError(f"original_max_positions must be >= 1, got {self.original_max_positions}")
        if self.kind == "llama3" and self.high_freq_factor <= self.low_freq_factor:
            raise ValueError(
                f"high_freq_factor ({self.high_freq_factor}) must exceed low_freq_factor ({self.low_freq_factor})"
            )


def base_frequencies(head_dim: int, theta: float) -> torch.Tensor:
    """w_i = theta^(-2i/D) for i < D/2, computed as `RotaryEmbedding` always has (float32)."""
    return 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))


def _default(head_dim, theta, s: RopeScaling, seq_len):
    return base_frequencies(head_dim, theta), 1.0


def _linear(head_dim, theta, s: RopeScaling, seq_len):
    return base_frequencies(head_dim, theta) / s.factor, 1.0


def _ntk(head_dim, theta, s: RopeScaling, seq_len):
    return base_frequencies(head_dim, theta * s.factor ** (head_dim / (head_dim - 2))), 1.0


def _dynamic(head_dim, theta, s: RopeScaling, seq_len):
    L = s.original_max_positions
    seq_len = max(seq_len or L, L)
    stretch = s.factor * seq_len / L - (s.factor - 1)  # 1 at T = L, grows linearly beyond
    return base_frequencies(head_dim, theta * stretch ** (head_dim / (head_dim - 2))), 1.0


def _yarn(head_dim, theta, s: RopeScaling, seq_len):
    L = s.original_max_positions

    def pair_turning(rotations: float) -> float:
        """The (fractional) pair index i whose wavelength fits `rotations` times into L."""
        return head_dim * math.log(L / (rotations * 2 * math.pi)) / (2 * math.log(theta))

    low = max(math.floor(pair_turning(s.beta_fast)), 0)
    high = min(math.ceil(pair_turning(s.beta_slow)), head_dim - 1)
    high = high + 0.001 if high == low else high
    ramp = ((torch.arange(head_dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)  # (D/2,)
    w = base_frequencies(head_dim, theta)
    inv_freq = w * (1 - ramp) + (w / s.factor) * ramp  # fast pairs (i < low) keep w, slow ones w / s
    attention = s.attention_factor
    if attention is None:
        attention = 0.1 * math.log(s.factor) + 1.0 if s.factor > 1 else 1.0
    return inv_freq, attention


def _llama3(head_dim, theta, s: RopeScaling, seq_len):
    w = base_frequencies(head_dim, theta)
    L = s.original_max_positions
    wavelength = 2 * math.pi / w  # (D/2,)
    smooth = (L / wavelength - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor)
    blended = (1 - smooth) * w / s.factor + smooth * w
    inv_freq = torch.where(wavelength > L / s.low_freq_factor, w / s.factor, w)
    medium = (wavelength >= L / s.high_freq_factor) & (wavelength <= L / s.low_freq_factor)
    return torch.where(medium, blended, inv_freq), 1.0


ROPE_FREQUENCIES: dict[str, Callable] = {
    "default": _default,
    "linear": _linear,
    "ntk": _ntk,
    "dynamic": _dynamic,
    "yarn": _yarn,
    "llama3": _llama3,
}


def rope_frequencies(
    head_dim: int, theta: float, scaling: RopeScaling | None = None, seq_len: int | None = None
) -> tuple[torch.Tensor, float]:
    """(inverse frequencies (head_dim/2,), attention factor) for `scaling` (None: unscaled).

    `seq_len` matters to "dynamic" only: the longest sequence the frequencies must serve.
    """
    if head_dim % 2 or head_dim < 4:
        raise ValueError(f"head_dim must be even and >= 4 for rotary positions, got {head_dim}")
    scaling = scaling or RopeScaling()
    return ROPE_FREQUENCIES[scaling.kind](head_dim, theta, scaling, seq_len)
