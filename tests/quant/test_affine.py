"""Affine quantize/dequantize against PyTorch's observers and quantize kernels, plus error bounds."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver

from groundup.quant import (
    QScheme,
    calc_qparams,
    dequantize,
    max_error,
    minmax,
    mse,
    qrange,
    quantize,
    quantize_dequantize,
    sqnr_db,
)

pytestmark = pytest.mark.module("1.1")


def test_qrange_covers_signed_unsigned_and_restricted():
    assert qrange(8) == (-128, 127)
    assert qrange(8, restricted=True) == (-127, 127)
    assert qrange(8, signed=False) == (0, 255)
    assert qrange(4) == (-8, 7)
    assert qrange(2, signed=False) == (0, 3)


@pytest.mark.parametrize(
    ("dtype", "qscheme", "symmetric", "signed"),
    [
        (torch.quint8, torch.per_tensor_affine, False, False),
        (torch.qint8, torch.per_tensor_affine, False, True),
        (torch.qint8, torch.per_tensor_symmetric, True, True),
        (torch.quint8, torch.per_tensor_symmetric, True, False),
    ],
)
def test_per_tensor_qparams_and_codes_match_torch(dtype, qscheme, symmetric, signed):
    x = torch.randn(4096, generator=torch.Generator().manual_seed(17)) * 3 + 0.7
    ref = MinMaxObserver(dtype=dtype, qscheme=qscheme)
    ref(x)
    ref_scale, ref_zero = ref.calculate_qparams()
    scheme = QScheme(bits=8, symmetric=symmetric, signed=signed)
    scale, zero = calc_qparams(*minmax(x, scheme), scheme)
    torch.testing.assert_close(scale, ref_scale.reshape(()), rtol=1e-6, atol=0)
    assert int(zero) == int(ref_zero)
    ours = quantize(x, scheme)
    theirs = torch.quantize_per_tensor(x, float(ref_scale), int(ref_zero), dtype)
    assert_codes_equal(ours.q, theirs.int_repr(), x / scale)


def assert_codes_equal(ours: torch.Tensor, theirs: torch.Tensor, ratio: torch.Tensor) -> None:
    """Codes equal torch's, except exactly at .5 ties of x/s: torch's scalar tail loop divides by s
    while its vector loop (and ours) multiplies by 1/s, so a tie can land one code apart."""
    diff = (ours.int() - theirs.int()).abs()
    tie = ((ratio - ratio.floor()) - 0.5).abs() < 1e-4
    assert int(diff.max()) <= 1 and not diff[~tie].any()


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("symmetric", [True, False])
def test_per_channel_matches_torch_on_any_axis(axis, symmetric):
    w = torch.randn(16, 24) * torch.linspace(0.1, 5, 24)
    qscheme = torch.per_channel_symmetric if symmetric else torch.per_channel_affine
    ref = PerChannelMinMaxObserver(ch_axis=axis, dtype=torch.qint8, qscheme=qscheme)
    ref(w)
    ref_scale, ref_zero = ref.calculate_qparams()
    ours = quantize(w, bits=8, symmetric=symmetric, granularity="channel", axis=axis)
    torch.testing.assert_close(ours.scale.reshape(-1), ref_scale, rtol=1e-6, atol=0)
    assert torch.equal(ours.zero_point.reshape(-1).long(), ref_zero.long())
    theirs = torch.quantize_per_channel(w, ref_scale, ref_zero, axis, torch.qint8)
    assert_codes_equal(ours.q, theirs.int_repr(), w / ours.scale)


schemes = st.builds(
    QScheme,
    bits=st.integers(2, 8),
    symmetric=st.booleans(),
    signed=st.booleans(),
    restricted=st.booleans(),
    granularity=st.sampled_from(["tensor", "channel", "group"]),
    axis=st.integers(0, 1),
    group_size=st.sampled_from([4, 8]),
)


@settings(max_examples=60, deadline=None)
@given(scheme=schemes, seed=st.integers(0, 2**16), shift=st.floats(-3, 3))
def test_round_trip_error_is_at_most_half_a_step_inside_the_range(scheme, seed, shift):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(6, 16, generator=g) + shift
    qt = quantize(x, scheme)
    x_hat = dequantize(qt)
    xv = x.reshape(6, 4 if scheme.group_size == 4 else 2, -1) if scheme.granularity == "group" else x
    scale = qt.scale.expand_as(xv).reshape(x.shape)
    zero = qt.zero_point.expand_as(xv).reshape(x.shape).float()
    lo_ok, hi_ok = (scheme.qmin - zero) * scale, (scheme.qmax - zero) * scale
    inside = (x >= lo_ok) & (x <= hi_ok)
    err = (x - x_hat).abs()
    assert torch.all(err[inside] <= scale[inside] / 2 * (1 + 1e-5) + 1e-7)
    assert int(qt.q.min()) >= scheme.qmin and int(qt.q.max()) <= scheme.qmax


def test_zero_points_symmetric_fixed_and_asymmetric_zero_exact():
    x = torch.tensor([-0.3, 0.0, 1.7, 2.9])
    assert int(quantize(x, bits=8).zero_point) == 0
    assert int(quantize(x, bits=8, signed=False).zero_point) == 128
    assert int(quantize(x, bits=4, signed=False).zero_point) == 8
    for bits in (2, 4, 8):
        for signed in (True, False):
            qt = quantize(x, bits=bits, symmetric=False, signed=signed)
            assert qt.dequantize()[1] == 0.0  # zero is a code, not an approximation
            assert qt.scheme.qmin <= int(qt.zero_point) <= qt.scheme.qmax


def test_restricted_range_maps_x_and_minus_x_to_opposite_codes():
    x = torch.linspace(-2, 2, 101)
    q = quantize(x, bits=8, restricted=True).q.int()
    assert torch.equal(q, -q.flip(0))
    assert int(q.min()) == -127


def test_per_channel_beats_per_tensor_on_a_weight_with_one_percent_outlier_channels():
    """Curriculum 1.1 exercise 2: 1% of output channels 50x larger; per-channel MSE much lower."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(512, 256, generator=g) * 0.02
    outliers = torch.randperm(512, generator=g)[:5]  # 1% of the channels
    w[outliers] *= 50
    per_tensor = mse(w, quantize_dequantize(w, bits=8))
    per_channel = mse(w, quantize_dequantize(w, bits=8, granularity="channel", axis=0))
    assert per_tensor / per_channel > 20
    assert sqnr_db(w, quantize_dequantize(w, bits=8, granularity="channel")) > sqnr_db(
        w, quantize_dequantize(w, bits=8)
    )


def test_per_group_equals_per_channel_on_each_group_view():
    w = torch.randn(8, 64)
    grouped = quantize(w, bits=4, granularity="group", group_size=16)
    assert grouped.scale.shape == (8, 4, 1)
    manual = quantize(w.reshape(32, 16), bits=4, granularity="channel", axis=0)
    assert torch.equal(grouped.q.reshape(32, 16), manual.q)
    assert torch.equal(grouped.dequantize(), manual.dequantize().reshape(8, 64))
    assert mse(w, grouped.dequantize()) <= mse(w, quantize_dequantize(w, bits=4, granularity="channel"))


def test_metrics_on_a_known_pair():
    x, x_hat = torch.tensor([3.0, 4.0]), torch.tensor([3.0, 3.0])
    assert mse(x, x_hat) == 0.5
    assert max_error(x, x_hat) == 1.0
    assert sqnr_db(x, x_hat) == pytest.approx(10 * torch.log10(torch.tensor(25.0)).item())
    assert sqnr_db(x, x) == float("inf")


def test_more_bits_add_about_six_db():
    x = torch.randn(20_000, generator=torch.Generator().manual_seed(0))
    gains = [
        sqnr_db(x, quantize_dequantize(x, bits=b + 1)) - sqnr_db(x, quantize_dequantize(x, bits=b))
        for b in (4, 5, 6)
    ]
    assert all(5.0 < g < 7.0 for g in gains)
