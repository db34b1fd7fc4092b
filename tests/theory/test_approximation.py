"""Universal approximation: width gives error ~ 1/width^2; depth k and width 2 give 2^k pieces."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from groundup.theory.approximation import interpolant_network, sawtooth, sup_error, tent_network

pytestmark = pytest.mark.module("0.9")


def f(x):
    return torch.sin(2 * math.pi * x) + 0.5 * x


def test_interpolant_network_error_falls_as_one_over_width_squared():
    widths = [8, 16, 32, 64, 128]
    errors = [sup_error(interpolant_network(f, w), f) for w in widths]
    slope = np.polyfit(np.log(widths), np.log(errors), 1)[0]
    assert slope == pytest.approx(-2, abs=0.1)
    for w, e in zip(widths, errors, strict=True):
        assert e <= (2 * math.pi) ** 2 / 8 / w**2 + 1e-9  # max|f''| h^2 / 8


@pytest.mark.parametrize("depth", [1, 3, 6])
def test_width_two_network_of_depth_k_is_the_sawtooth(depth):
    assert sup_error(tent_network(depth), lambda x: sawtooth(x, depth)) < 1e-12


def test_a_shallow_network_needs_about_two_to_the_k_units():
    depth = 5  # 32 linear pieces
    target = lambda x: sawtooth(x, depth)  # noqa: E731
    assert sup_error(interpolant_network(target, 2**depth), target) < 1e-12
    assert sup_error(interpolant_network(target, 2**depth - 3), target) > 0.3
