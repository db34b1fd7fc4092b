"""Receptive fields against input gradients; depthwise-separable vs standard convolution costs against
the formulas and against counted parameters and FLOPs."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from groundup.models import cnn
from groundup.vision.receptive import (
    SEPARABLE_CASES,
    conv_cost,
    cost_table,
    layer_geometry,
    receptive_field,
    separable_pair,
)

pytestmark = pytest.mark.module("0.3")


def gradient_support(model: nn.Module, side: int = 64) -> int:
    """Width of the input region that can influence the centre output (non-zero input gradient)."""
    x = torch.zeros(1, 1, side, side, requires_grad=True)
    out = model(x)
    out[0, 0, out.shape[-2] // 2, out.shape[-1] // 2].backward()
    cols = torch.nonzero(x.grad[0, 0].abs().sum(0))[:, 0]
    return int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize(
    "layers",
    [
        [nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3)],
        [nn.Conv2d(1, 1, 5, stride=2), nn.Conv2d(1, 1, 3, stride=2), nn.Conv2d(1, 1, 3)],
        [nn.Conv2d(1, 1, 3, dilation=2), nn.AvgPool2d(2), nn.Conv2d(1, 1, 3, dilation=3)],
        [nn.Conv2d(1, 1, 7, stride=2), nn.AvgPool2d(3, 2), nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3, stride=2)],
    ],
)
def test_receptive_field_matches_the_input_gradient(layers):
    model = nn.Sequential(*layers)
    for m in model.modules():  # positive weights: no cancellation inside the field
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 0.1)
            nn.init.zeros_(m.bias)
    r, _ = receptive_field((k, s, d) for _, k, s, d in layer_geometry(model))
    assert gradient_support(model, 96) == r


def test_vgg_style_stacks_grow_linearly():
    assert receptive_field([(3, 1, 1)] * 3)[0] == 7  # three 3x3 convolutions see a 7x7 window
    assert receptive_field([(3, 1, 1), (2, 2, 1)] * 2) == (10, 4)


def test_published_receptive_fields_of_the_zoo_chains():
    """The feature stacks of AlexNet and VGG-16 (through the last pool) see 195 and 212 pixels."""
    with torch.device("meta"):
        for name, expected in (("alexnet", 195), ("vgg16", 212)):
            geometry = layer_geometry(cnn.build(name).features)
            assert receptive_field((k, s, d) for _, k, s, d in geometry) == (expected, 32)


@pytest.mark.parametrize(
    ("k", "c_in", "c_out", "side"), [(3, 32, 64, 16), (5, 16, 16, 8), (3, 96, 24, 14), *SEPARABLE_CASES]
)
def test_separable_costs_match_counted_parameters_and_flops(k, c_in, c_out, side):
    cost = conv_cost(k, c_in, c_out, side, side)
    with torch.device("meta"):  # shapes are enough to count parameters and FLOPs
        standard, separable = separable_pair(k, c_in, c_out)
        x = torch.zeros(1, c_in, side, side)
    assert sum(p.numel() for p in standard.parameters()) == cost["standard_params"]
    assert sum(p.numel() for p in separable.parameters()) == cost["separable_params"]
    for module, key in ((standard, "standard_macs"), (separable, "separable_macs")):
        with FlopCounterMode(display=False) as counter:
            module(x)
        assert counter.get_total_flops() == 2 * cost[key]  # a multiply-add is two FLOPs
    ratio = cost["separable_macs"] / cost["standard_macs"]
    assert ratio == pytest.approx(1 / c_out + 1 / k**2)


def test_cost_table_rows_follow_the_formulas():
    rows = cost_table()
    assert len(rows) == len(SEPARABLE_CASES)
    assert rows[0][:3] == ["3x3, 32->64, 112x112", "18,432", "2,336"]
    assert rows[0][5].startswith(f"{(9 * 32 + 32 * 64) / (9 * 32 * 64):.4f}")
