"""ResNet: the CIFAR-style networks, and (slow) the degradation problem at reduced scale."""

from __future__ import annotations

import pytest
import torch

from groundup.models.cnn import CifarResNet
from groundup.theory.papers.resnet import train_sgd
from groundup.theory.study import evaluate, mnist

pytestmark = pytest.mark.module("0.10")


def count(m):
    return sum(p.numel() for p in m.parameters())


def test_resnet_20_has_the_papers_0_27m_parameters():
    # He et al. 2015, table 6: ResNet-20 on CIFAR-10 has 0.27M parameters (option A shortcuts have
    # none; our two 1x1 projections add 2,560 + BN)
    model = CifarResNet(20, in_channels=3, residual=True)
    plain = CifarResNet(20, in_channels=3, residual=False)
    assert 0.26e6 < count(plain) < 0.28e6 and count(model) - count(plain) == 512 + 2048 + 64 + 128
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_depth_must_be_six_n_plus_two():
    with pytest.raises(ValueError, match="6n"):
        CifarResNet(21)


@pytest.mark.slow
def test_deeper_plain_network_trains_worse_and_deeper_resnet_does_not():
    x, y, _, _ = mnist(downsample=True)
    x, y = x[:2000], y[:2000]
    err = {}
    for residual in (False, True):
        for depth in (8, 32):
            torch.manual_seed(0)
            model = CifarResNet(depth, width=0.5, residual=residual)
            train_sgd(model, x, y, epochs=3, seed=0)
            err[(residual, depth)] = evaluate(model, x, y)[1]
    assert err[(False, 32)] > err[(False, 8)]
    assert err[(True, 32)] <= err[(True, 8)] + 0.01
