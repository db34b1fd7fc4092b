"""Bad input fails loudly: ValueError naming the parameter and the allowed values."""

from __future__ import annotations

import pytest
import torch

from groundup.quant import (
    QScheme,
    QuantConfig,
    calibrate,
    make_observer,
    quantize,
    quantize_nf4,
    swap_quant_layers,
)
from groundup.quant.fp8 import round_to_fp8

pytestmark = pytest.mark.module("1.1")


@pytest.mark.parametrize("bits", [0, 1, 9, 16, 4.0, True])
def test_bit_widths_outside_two_to_eight(bits):
    with pytest.raises(ValueError, match=r"bits must be an integer in 2\.\.8"):
        QScheme(bits=bits)


def test_group_size_must_divide_the_dimension():
    with pytest.raises(ValueError, match="group_size must divide .* 100, got 32"):
        quantize(torch.randn(4, 100), bits=4, granularity="group", group_size=32)
    with pytest.raises(ValueError, match="block_size|group_size"):
        quantize_nf4(torch.randn(100), block_size=64)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_and_inf_are_refused(bad):
    x = torch.tensor([0.0, 1.0, bad])
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        quantize(x)
    with pytest.raises(ValueError, match="NaN or inf"):
        round_to_fp8(x)
    with pytest.raises(ValueError, match="NaN or inf"):
        quantize_nf4(torch.cat([x, torch.zeros(61)]))
    with pytest.raises(ValueError, match="NaN or inf"):
        make_observer("minmax").observe(x)


def test_empty_calibration_sets():
    model = swap_quant_layers(torch.nn.Sequential(torch.nn.Linear(4, 2)), QuantConfig())
    with pytest.raises(ValueError, match="batches is empty"):
        calibrate(model, [])
    with pytest.raises(ValueError, match="calibration set is empty"):
        make_observer("percentile").qparams()
    with pytest.raises(ValueError, match="calibrate"):
        model.eval()(torch.randn(1, 4))


def test_unknown_names_list_the_choices():
    with pytest.raises(ValueError, match="granularity must be one of"):
        QScheme(granularity="row")
    with pytest.raises(ValueError, match="observer must be one of"):
        QuantConfig(observer="magic")
    with pytest.raises(ValueError, match="mode must be one of"):
        QuantConfig(mode="fp4")
