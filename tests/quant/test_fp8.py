"""FP8 E4M3 / E5M2 rounding against torch's float8 dtype casts, value for value."""

from __future__ import annotations

import pytest
import torch

from groundup.quant import E4M3, E5M2, quantize_fp8, round_to_fp8

pytestmark = pytest.mark.module("1.1")

DTYPES = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2}


def hard_inputs(dtype: torch.dtype) -> torch.Tensor:
    """Every finite FP8 value, every midpoint between neighbours (ties) and one ulp either side of it,
    plus normal samples from tiny (subnormal) to beyond the largest value (overflow)."""
    values = torch.arange(256, dtype=torch.uint8).view(dtype).float()
    values = values[torch.isfinite(values)].unique()
    mids = (values[1:] + values[:-1]) / 2
    up, down = torch.nextafter(mids, torch.tensor(1e30)), torch.nextafter(mids, torch.tensor(-1e30))
    g = torch.Generator().manual_seed(0)
    samples = torch.cat(
        [torch.randn(20_000, generator=g) * s for s in (1e-5, 1e-3, 0.1, 1, 30, 500, 1e4, 1e5)]
    )
    return torch.cat([values, mids, up, down, samples])


@pytest.mark.parametrize("fmt", ["e4m3", "e5m2"])
def test_round_to_fp8_equals_torch_cast(fmt):
    x = hard_inputs(DTYPES[fmt])
    ours = round_to_fp8(x, fmt)
    theirs = x.to(DTYPES[fmt]).float()
    assert torch.equal(ours, theirs)


def test_format_constants_match_torch_finfo():
    for f, dtype in ((E4M3, torch.float8_e4m3fn), (E5M2, torch.float8_e5m2)):
        info = torch.finfo(dtype)
        assert f.max_value == info.max
        assert 2.0**f.min_normal_exponent == info.smallest_normal
        smallest_subnormal = torch.tensor(2.0 ** (f.min_normal_exponent - f.mantissa_bits))
        assert round_to_fp8(smallest_subnormal, f) == smallest_subnormal
        assert round_to_fp8(smallest_subnormal / 2, f) == 0.0  # a tie between 0 and it: even wins


def test_saturate_clamps_e5m2_overflow_instead_of_inf():
    x = torch.tensor([1e6, -1e6])
    assert torch.isinf(round_to_fp8(x, "e5m2")).all()
    assert torch.equal(round_to_fp8(x, "e5m2", saturate=True), torch.tensor([57344.0, -57344.0]))


@pytest.mark.parametrize(("fmt", "max_rel"), [("e4m3", 2.0**-4), ("e5m2", 2.0**-3)])
def test_scaled_fp8_uses_the_full_range_with_half_ulp_relative_error(fmt, max_rel):
    w = torch.randn(64, 128) * 0.01
    values, scale = quantize_fp8(w, fmt, axis=0)
    assert scale.shape == (64, 1)
    top = E4M3.max_value if fmt == "e4m3" else E5M2.max_value
    torch.testing.assert_close(values.abs().amax(dim=1), torch.full((64,), top))
    normal = (w / scale).abs() >= 2.0 ** (E4M3 if fmt == "e4m3" else E5M2).min_normal_exponent
    rel = ((values * scale - w).abs() / w.abs())[normal]
    assert rel.max() <= max_rel * (1 + 1e-6)  # half an ulp of a 3- (2-) bit mantissa
