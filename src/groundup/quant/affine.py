"""Affine (uniform) quantization: x ≈ (q - z) · s, with a float scale s and an integer zero-point z.

    q = clamp(round(x / s) + z, qmin, qmax)            quantize
    x̂ = (q - z) · s                                    dequantize

Symmetric schemes fix z (0 for signed, the mid code for unsigned) and pick s = max|x| / ((qmax-qmin)/2);
asymmetric schemes map [min(x, 0), max(x, 0)] onto [qmin, qmax] so that 0.0 stays exactly representable
(padding and ReLU zeros cost no error). These are the conventions of PyTorch's observers, which the
tests use as the reference.

Granularity decides how many (s, z) pairs a tensor gets:
    "tensor"   one pair                          scale shape ()
    "channel"  one pair per index of `axis`      scale shape keeps dims, e.g. (out, 1) for a Linear weight
    "group"    one pair per `group_size` run of the last (input) dimension:
               x (..., in) is viewed as (..., in/g, g) and the scale has shape (..., in/g, 1)

Everything here is a pure function of tensors; modules (QuantLinear) and observers build on them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from groundup.quant.checks import check_bits, check_finite, check_group_size

GRANULARITIES = ("tensor", "channel", "group")
EPS = torch.finfo(torch.float32).eps


def qrange(bits: int, signed: bool = True, restricted: bool = False) -> tuple[int, int]:
    """Integer code range. Signed: [-2^(b-1), 2^(b-1)-1]; unsigned: [0, 2^b-1].

    `restricted` drops the lowest code ([-127, 127] for INT8) so the grid is symmetric about the
    zero-point: -x and x then quantize to opposite codes, which symmetric int8 GEMMs rely on.
    """
    check_bits(bits)
    if signed:
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    else:
        lo, hi = 0, 2**bits - 1
    return (lo + 1, hi) if restricted else (lo, hi)


@dataclass(frozen=True)
class QScheme:
    """How to quantize a tensor: bit width, sign, symmetry, restricted range and granularity."""

    bits: int = 8
    symmetric: bool = True
    signed: bool = True
    restricted: bool = False
    granularity: str = "tensor"
    axis: int = 0
    group_size: int = 128

    def __post_init__(self) -> None:
        check_bits(self.bits)
        if self.granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {GRANULARITIES}, got {self.granularity!r}")
        if self.granularity == "group" and (not isinstance(self.group_size, int) or self.group_size <= 0):
            raise ValueError(f"group_size must be a positive integer, got {self.group_size!r}")

    @property
    def qmin(self) -> int:
        return qrange(self.bits, self.signed, self.restricted)[0]

    @property
    def qmax(self) -> int:
        return qrange(self.bits, self.signed, self.restricted)[1]

    def with_(self, **changes) -> QScheme:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


def to_groups(x: torch.Tensor, group_size: int) -> torch.Tensor:
    """(..., n) -> (..., n/g, g): each row of the last dim becomes runs of `group_size` values."""
    check_group_size(group_size, x.shape[-1])
    return x.reshape(*x.shape[:-1], x.shape[-1] // group_size, group_size)


def reduce_dims(x: torch.Tensor, scheme: QScheme) -> tuple[int, ...]:
    """The dims a range is taken over: all, all but `axis`, or the last one of the group view."""
    if scheme.granularity == "tensor":
        return tuple(range(x.dim()))
    if scheme.granularity == "channel":
        if not -x.dim() <= scheme.axis < max(x.dim(), 1):
            raise ValueError(
                f"axis must be in -{x.dim()}..{x.dim() - 1} for a {x.dim()}-d tensor, got {scheme.axis}"
            )
        axis = scheme.axis % x.dim()
        return tuple(d for d in range(x.dim()) if d != axis)
    return (x.dim() - 1,)


def minmax(x: torch.Tensor, scheme: QScheme) -> tuple[torch.Tensor, torch.Tensor]:
    """(min, max) of `x` at the scheme's granularity, shaped to broadcast against `x` (or its group view)."""
    check_finite(x)
    if x.numel() == 0:
        raise ValueError("x is empty; a quantization range needs at least one value")
    if scheme.granularity == "group":
        x = to_groups(x, scheme.group_size)
    x = x.detach().float()
    if scheme.granularity == "tensor":
        return x.amin(), x.amax()
    dims = reduce_dims(x, scheme)
    return x.amin(dim=dims, keepdim=True), x.amax(dim=dims, keepdim=True)


def calc_qparams(lo: torch.Tensor, hi: torch.Tensor, scheme: QScheme) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale (float32) and zero-point (int32) mapping the range [lo, hi] onto [qmin, qmax].

    The range is first widened to contain 0 so that zero is exact. Scales never go below float32 eps,
    so an all-zero tensor still gets a usable (tiny) scale instead of a division by zero.
    """
    lo = torch.as_tensor(lo, dtype=torch.float32).clamp(max=0.0)
    hi = torch.as_tensor(hi, dtype=torch.float32).clamp(min=0.0)
    qmin, qmax = scheme.qmin, scheme.qmax
    if scheme.symmetric:
        amax = torch.maximum(-lo, hi)
        scale = (amax / ((qmax - qmin) / 2)).clamp(min=EPS)
        mid = 0 if scheme.signed else (qmin + qmax + 1) // 2
        zero = torch.full_like(scale, mid, dtype=torch.int32)
    else:
        scale = ((hi - lo) / (qmax - qmin)).clamp(min=EPS)
        zero = (qmin - torch.round(lo / scale)).clamp(qmin, qmax).to(torch.int32)
    return scale, zero


def storage_dtype(qmin: int) -> torch.dtype:
    """Codes of 2..8 bits live in one byte each: int8 when the range has negatives, else uint8."""
    return torch.int8 if qmin < 0 else torch.uint8


def quantize_affine(
    x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, qmin: int, qmax: int
) -> torch.Tensor:
    """Elementwise q = clamp(round(x · (1/s)) + z, qmin, qmax); `scale`/`zero_point` broadcast to `x`.

    Multiplying by the float32 reciprocal (not dividing) and rounding half to even is what PyTorch's
    quantize kernels do, so codes match theirs bit for bit.
    """
    check_finite(x)
    inv = 1.0 / scale.float()
    q = torch.round(x.float() * inv) + zero_point
    return q.clamp(qmin, qmax).to(storage_dtype(qmin))


def dequantize_affine(q: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor) -> torch.Tensor:
    """Elementwise x̂ = (q - z) · s in float32."""
    return (q.to(torch.int32) - zero_point).float() * scale.float()


@dataclass
class QTensor:
    """Integer codes plus the parameters that give them meaning; `shape` is the original float shape."""

    q: torch.Tensor
    scale: torch.Tensor
    zero_point: torch.Tensor
    scheme: QScheme

    def dequantize(self) -> torch.Tensor:
        return dequantize(self)

    def nbytes(self) -> int:
        """Storage if codes were bit-packed (bits/8 bytes each) plus float32 scales and int8/32 zeros."""
        codes = (self.q.numel() * self.scheme.bits + 7) // 8
        zeros = 0 if self.scheme.symmetric else self.zero_point.numel() * (1 if self.scheme.bits <= 8 else 4)
        return codes + self.scale.numel() * 4 + zeros


def quantize(
    x: torch.Tensor,
    scheme: QScheme | None = None,
    *,
    lo: torch.Tensor | float | None = None,
    hi: torch.Tensor | float | None = None,
    **fields,
) -> QTensor:
    """Quantize `x` with `scheme` (or QScheme(**fields)); `lo`/`hi` override the min/max range (clipping).

    >>> qt = quantize(torch.tensor([-1.0, 0.0, 0.5, 1.0]), bits=8)
    >>> qt.q.tolist(), round(qt.scale.item(), 6)
    ([-127, 0, 64, 127], 0.007843)
    """
    scheme = (scheme or QScheme()).with_(**fields) if fields else (scheme or QScheme())
    check_finite(x)
    xv = to_groups(x, scheme.group_size) if scheme.granularity == "group" else x
    rlo, rhi = minmax(x, scheme)
    rlo = rlo if lo is None else torch.as_tensor(lo, dtype=torch.float32).expand_as(rlo)
    rhi = rhi if hi is None else torch.as_tensor(hi, dtype=torch.float32).expand_as(rhi)
    scale, zero = calc_qparams(rlo, rhi, scheme)
    q = quantize_affine(xv, scale, zero, scheme.qmin, scheme.qmax)
    return QTensor(q.reshape(x.shape), scale, zero, scheme)


def quantize_with(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, scheme: QScheme) -> QTensor:
    """Quantize with given parameters (from an observer or calibration) at the scheme's granularity."""
    xv = to_groups(x, scheme.group_size) if scheme.granularity == "group" else x
    q = quantize_affine(xv, scale, zero_point, scheme.qmin, scheme.qmax)
    return QTensor(q.reshape(x.shape), scale, zero_point, scheme)


def dequantize(qt: QTensor) -> torch.Tensor:
    """Back to float32 in the original shape."""
    q = qt.q
    if qt.scheme.granularity == "group":
        q = to_groups(q, qt.scheme.group_size)
    return dequantize_affine(q, qt.scale, qt.zero_point).reshape(qt.q.shape)


def quantize_dequantize(x: torch.Tensor, scheme: QScheme | None = None, **fields) -> torch.Tensor:
    """The float tensor a quantized `x` stands for (no gradient trick; see fake_quant for training)."""
    return dequantize(quantize(x, scheme, **fields))
