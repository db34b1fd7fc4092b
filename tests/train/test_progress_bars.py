"""Commands that train for more than a few seconds show a progress bar (issue 14.7): the classifier
loop behind the MNIST capstones draws one per run on a terminal (or when asked), and none in logs."""

import pytest
import torch

from groundup.train.tasks import train_classifier

pytestmark = pytest.mark.module("1.1")


def test_classifier_training_shows_a_bar_when_asked_and_none_in_a_log(capsys):
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    train_classifier(torch.nn.Linear(8, 3), x, y, epochs=3, batch_size=16, progress=True)
    err = capsys.readouterr().err
    assert "training Linear" in err and "/3 [" in err and "loss=" in err
    train_classifier(torch.nn.Linear(8, 3), x, y, epochs=3, batch_size=16)  # stderr is not a terminal here
    assert capsys.readouterr().err == ""
