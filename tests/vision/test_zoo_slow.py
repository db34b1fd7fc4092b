"""The zoo capstone at its committed budget: every architecture learns the digits (slow).

Same settings as `groundup vision zoo --epochs 3` (4,000 training digits as 3 x 32 x 32, AdamW + cosine,
seed 0, one thread), whose report is docs/notes/0.3-cnn-zoo/zoo.md. Chance is 10%. Every model must
beat 80% on the 1,000 held-out digits except two that are still climbing after 189 steps in the report:
VGG-16-BN (0.58: 13 plain convolutions at width 1/4, two dropout-0.5 layers in a 128-wide head) and the
tiny ViT (0.49: no convolutional prior, 4,000 images).
"""

from __future__ import annotations

import pytest
import torch

from groundup.vision.data import mnist_splits
from groundup.vision.zoo import ZOO_MODELS, run_zoo

pytestmark = [pytest.mark.module("0.3"), pytest.mark.slow]

STATED = {name: 0.8 for name in ZOO_MODELS} | {"vgg16_bn": 0.5, "vit_tiny": 0.4}


@pytest.fixture
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize("name", list(ZOO_MODELS))
def test_each_zoo_model_beats_its_stated_accuracy(name, one_thread):
    result = run_zoo(mnist_splits(), epochs=3, models=[name], progress=lambda _: None)
    assert result["results"][name]["accuracy"] > STATED[name]
