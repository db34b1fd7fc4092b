"""CLIP's symmetric InfoNCE against transformers' clip_loss on the same logits."""

import math

import pytest
import torch

from groundup.models.clip import LogitScale, clip_loss, contrastive_logits, zero_shot_predict

pytestmark = pytest.mark.module("3.6")


@pytest.mark.parametrize("n", [1, 4, 33])
def test_clip_loss_equals_transformers(n):
    from transformers.models.clip import modeling_clip

    # transformers 5 renamed clip_loss to image_text_contrastive_loss
    reference = getattr(modeling_clip, "image_text_contrastive_loss", None) or modeling_clip.clip_loss
    g = torch.Generator().manual_seed(n)
    scale = LogitScale()
    logits = contrastive_logits(torch.randn(n, 16, generator=g), torch.randn(n, 16, generator=g), scale())
    # transformers' CLIPModel passes the text-by-image matrix (logits_per_text); the loss is symmetric
    torch.testing.assert_close(clip_loss(logits), reference(logits.T))


def test_temperature_starts_at_0_07_clamps_at_100_and_learns():
    scale = LogitScale()
    assert scale().exp().item() == pytest.approx(1 / 0.07)
    with torch.no_grad():
        scale.s.fill_(10.0)
    assert scale().exp().item() == pytest.approx(100.0)
    scale = LogitScale(0.5)
    emb = torch.eye(4)
    loss = clip_loss(contrastive_logits(emb, emb, scale()))
    loss.backward()
    assert scale.s.grad < 0  # matching pairs: a sharper softmax (larger s) lowers the loss
    assert loss.item() < math.log(4)


def test_zero_shot_picks_the_nearest_caption():
    captions = torch.eye(3)
    images = torch.tensor([[0.1, 0.9, 0.0], [2.0, 0.1, 0.3], [0.0, 0.2, 0.5]])
    assert zero_shot_predict(images, captions).tolist() == [1, 0, 2]
