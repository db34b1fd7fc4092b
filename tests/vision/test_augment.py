"""Augmentation ops against torchvision.transforms.v2.functional at the same parameters; mixup and
cutmix against their formulas; the bad-alpha error."""

from __future__ import annotations

import pytest
import torch

from groundup.vision import augment as A
from tests.vision.tvref import torchvision

pytestmark = pytest.mark.module("3.3")


@pytest.fixture(scope="module")
def TF():
    torchvision()
    from torchvision.transforms.v2 import functional

    return functional


@pytest.fixture
def img():
    return torch.rand(3, 20, 24, generator=torch.Generator().manual_seed(0))


def test_geometric_ops_match_torchvision(TF, img):
    torch.testing.assert_close(A.pad(img, 3), TF.pad(img, [3], fill=0))
    torch.testing.assert_close(A.crop(img, 2, 5, 10, 12), TF.crop(img, 2, 5, 10, 12))
    torch.testing.assert_close(A.hflip(img), TF.horizontal_flip(img))


@pytest.mark.parametrize("angle", [0.0, 17.0, -40.0, 90.0])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_rotate_matches_torchvision(TF, img, angle, mode):
    from torchvision.transforms.v2 import InterpolationMode

    interpolation = InterpolationMode.BILINEAR if mode == "bilinear" else InterpolationMode.NEAREST
    torch.testing.assert_close(
        A.rotate(img, angle, mode), TF.rotate(img, angle, interpolation), atol=1e-5, rtol=0
    )


@pytest.mark.parametrize("factor", [0.0, 0.5, 1.3])
def test_colour_ops_match_torchvision(TF, img, factor):
    torch.testing.assert_close(A.adjust_brightness(img, factor), TF.adjust_brightness(img, factor))
    torch.testing.assert_close(A.adjust_contrast(img, factor), TF.adjust_contrast(img, factor))
    torch.testing.assert_close(A.adjust_saturation(img, factor), TF.adjust_saturation(img, factor))
    grey = img[:1]
    torch.testing.assert_close(A.adjust_contrast(grey, factor), TF.adjust_contrast(grey, factor))


def test_erase_matches_torchvision(TF, img):
    torch.testing.assert_close(A.erase(img, 3, 4, 5, 6, 0.25), TF.erase(img, 3, 4, 5, 6, torch.tensor(0.25)))


def test_random_transforms_are_reproducible_and_keep_shape(img):
    pipe = A.Compose([A.RandomCrop(20, padding=2), A.RandomHorizontalFlip(), A.RandomRotation(15),
                      A.ColorJitter(0.4, 0.4, 0.4), A.RandomErasing(1.0)])  # fmt: skip
    x = img[:, :, :20]
    a = pipe(x, torch.Generator().manual_seed(3))
    b = pipe(x, torch.Generator().manual_seed(3))
    assert a.shape == x.shape and torch.equal(a, b)
    batch = A.apply_batch(
        A.train_pipeline(20, padding=4), x.expand(5, -1, -1, -1), torch.Generator().manual_seed(0)
    )
    assert batch.shape == (5, 3, 20, 20) and not torch.equal(batch[0], batch[1])


def test_mixup_is_the_convex_combination():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 1, 6, 6), torch.arange(8) % 4
    mixed, soft, lam = A.mixup(x, y, 4, alpha=0.4, gen=gen)
    assert 0 <= lam <= 1 and torch.allclose(soft.sum(1), torch.ones(8))
    # every row is lam * own + (1 - lam) * partner: the own label's weight is at least lam
    own = soft[torch.arange(8), y]
    assert torch.all(own >= lam - 1e-6)
    residual = [(mixed[i] - lam * x[i] - (1 - lam) * x).flatten(1).abs().amax(1) for i in range(8)]
    partner = [int(torch.nonzero(r < 1e-5)[0]) for r in residual]  # which image each one was mixed with
    expected = lam * A.one_hot(y, 4) + (1 - lam) * A.one_hot(y[partner], 4)
    torch.testing.assert_close(soft, expected)


def test_cutmix_label_weight_is_the_kept_area():
    gen = torch.Generator().manual_seed(1)
    x = torch.arange(4).float().view(4, 1, 1, 1).expand(4, 1, 16, 16).clone()  # image i is constant i
    y = torch.arange(4)
    out, soft, kept = A.cutmix(x, y, 4, alpha=1.0, gen=gen)
    for i in range(4):
        own_fraction = float((out[i] == i).float().mean())
        if soft[i, i] < 1:  # the partner differs from the image itself
            assert own_fraction == pytest.approx(kept)
            assert float(soft[i, i]) == pytest.approx(kept)
    assert torch.allclose(soft.sum(1), torch.ones(4))


@pytest.mark.parametrize("alpha", [0.0, -1.0])
def test_mixing_refuses_non_positive_alpha(alpha):
    x, y = torch.zeros(2, 1, 4, 4), torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match="alpha"):
        A.mixup(x, y, 2, alpha, torch.Generator())
    with pytest.raises(ValueError, match="alpha"):
        A.cutmix(x, y, 2, alpha, torch.Generator())
