"""ViT-B/16 against torchvision's vit_b_16 (same parameter count, identical outputs with copied weights),
the shared pre-norm blocks inside it, and a tiny ViT that learns the digits."""

from __future__ import annotations

import pytest
import torch

from groundup.models.cnn import ImageShapeError
from groundup.models.transformer import Block
from groundup.models.vit import VisionTransformer, from_torchvision_state_dict, tiny_vit, vit_b_16
from tests.vision.tvref import torchvision

pytestmark = pytest.mark.module("3.3")


def copy_and_compare(ours, theirs, side: int) -> None:
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in theirs.parameters():  # the zero-initialised head and tokens would hide mistakes
            p.add_(0.02 * torch.randn(p.shape, generator=gen))
        ours.load_state_dict(from_torchvision_state_dict(theirs.state_dict()), strict=True)
        x = torch.randn(2, 3, side, side, generator=gen)
        torch.testing.assert_close(ours.eval()(x), theirs.eval()(x), rtol=1e-4, atol=1e-4)


def test_vit_b_16_has_torchvisions_parameters():
    tv = torchvision()
    with torch.device("meta"):  # shapes only: initialising 2 x 86M parameters takes ~20 s here
        ours, theirs = vit_b_16(), tv.models.vit_b_16()
    assert (
        sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters()) == 86_567_656
    )
    assert set(from_torchvision_state_dict(theirs.state_dict())) == set(ours.state_dict())


def test_small_vit_matches_torchvision():
    tv = torchvision()
    theirs = tv.models.VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=256, num_classes=10
    )
    ours = VisionTransformer(32, 8, 10, dim=64, depth=2, heads=4, mlp_ratio=4)
    copy_and_compare(ours, theirs, 32)


@pytest.mark.slow
def test_vit_b_16_outputs_match_torchvision():
    tv = torchvision()
    copy_and_compare(vit_b_16(), tv.models.vit_b_16(), 224)


def test_blocks_are_the_shared_pre_norm_blocks():
    model = tiny_vit()
    assert all(type(b) is Block and b.pre_norm for b in model.blocks)


def test_wrong_image_shape_names_both_shapes():
    with pytest.raises(ImageShapeError, match=r"\(B, 1, 28, 28\).*\(2, 3, 28, 28\)"):
        tiny_vit()(torch.zeros(2, 3, 28, 28))
    with pytest.raises(ValueError, match="patch_size"):
        VisionTransformer(30, 7)


def test_tiny_vit_learns_digits():
    """A few hundred steps on sklearn's 8x8 digits upsampled to 28x28 beat chance by far."""
    from groundup.train.tasks import accuracy, train_classifier
    from groundup.vision.data import digits_splits

    data = digits_splits(size=28)
    torch.manual_seed(0)
    model = tiny_vit()
    train_classifier(model, data.x_train, data.y_train, epochs=2, lr=2e-3, seed=0)
    assert accuracy(model, data.x_test, data.y_test) > 0.5
