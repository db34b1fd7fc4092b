"""The toy CLIP on digits: captions in words, learned temperature, zero-shot classification by caption."""

import pytest
import torch

from groundup.train import clip_study

pytestmark = pytest.mark.module("3.6")


def test_vocab_and_towers_shapes():
    model = clip_study.DigitCLIP()
    ids, mask = model.vocab.encode(["the digit seven", "one"])
    assert ids.shape == (2, 4) and mask.tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    logits = model.logits(torch.randn(2, 1, 8, 8), ["the digit seven", "one"])
    assert logits.shape == (2, 2)
    assert model.zero_shot(torch.randn(5, 1, 8, 8)).shape == (5,)


def test_contrastive_training_gives_zero_shot_accuracy_far_above_chance(data_dir):
    from groundup.train.diffusion_study import load_digits

    x_train, y_train, x_test, y_test = load_digits()
    model, losses, temps = clip_study.train_clip(x_train, y_train, steps=150)
    accuracy = (model.zero_shot(x_test) == y_test).float().mean().item()
    assert accuracy > 0.7, accuracy
    assert sum(losses[-10:]) < sum(losses[:10]) and temps[-1] != pytest.approx(0.07, abs=1e-6)
