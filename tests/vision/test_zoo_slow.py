"""The zoo capstone at a reduced budget: every architecture learns the digits (slow)."""

from __future__ import annotations

import pytest

from groundup.train.tasks import ImageSplits
from groundup.vision.data import mnist_splits
from groundup.vision.zoo import ZOO_MODELS, run_zoo

pytestmark = [pytest.mark.module("0.3"), pytest.mark.slow]


@pytest.mark.parametrize("name", list(ZOO_MODELS))
def test_each_zoo_model_beats_chance_by_far(name):
    """4,000 training digits, 3 epochs: every model above 80% on the 1,000 held-out digits (chance 10%)."""
    data = mnist_splits()
    data = ImageSplits(data.x_train, data.y_train, data.x_test, data.y_test)
    result = run_zoo(data, epochs=3, models=[name], progress=lambda _: None)
    assert result["results"][name]["accuracy"] > 0.8
