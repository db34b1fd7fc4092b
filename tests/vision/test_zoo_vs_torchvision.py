"""Every zoo architecture against torchvision's: same parameter count, and identical eval-mode outputs
once our state dict is loaded into torchvision's model (the names match, so the load is strict)."""

from __future__ import annotations

import pytest
import torch

from groundup.models import cnn
from tests.vision.tvref import torchvision

pytestmark = pytest.mark.module("0.3")

# name: (published parameter count at 1000 classes, input side used for the output check)
PUBLISHED = {
    "alexnet": (61_100_840, 64),
    "vgg11": (132_863_336, 32),
    "vgg11_bn": (132_868_840, 32),
    "vgg16": (138_357_544, 32),
    "vgg16_bn": (138_365_992, 32),
    "resnet18": (11_689_512, 64),
    "resnet34": (21_797_672, 64),
    "resnet50": (25_557_032, 64),
    "googlenet": (6_624_904, 64),
    "mobilenet_v2": (3_504_872, 64),
    "efficientnet_b0": (5_288_548, 64),
    "densenet121": (7_978_856, 64),
}


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def reference(name: str) -> torch.nn.Module:
    """torchvision's model with shapes only (meta tensors): it receives our weights with `assign=True`,
    which skips initialising a second copy of up to 138M parameters."""
    tv = torchvision()
    with torch.device("meta"):
        if name == "googlenet":  # ours has no auxiliary classifiers
            return tv.models.GoogLeNet(aux_logits=False, init_weights=True)
        return getattr(tv.models, name)()


def randomize_norms(model: torch.nn.Module, gen: torch.Generator) -> None:
    """Give BatchNorm non-trivial statistics and affine terms, so the eval-mode comparison tests them."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
            m.bias.data.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))


# The VGG variants beyond VGG-16 spend several seconds each initialising 130M parameters: slow-only.
CASES = [
    pytest.param(n, marks=pytest.mark.slow) if n in ("vgg11", "vgg11_bn", "vgg16_bn") else n
    for n in PUBLISHED
]


@pytest.mark.parametrize("name", CASES)
@torch.no_grad()
def test_same_parameters_and_outputs_as_torchvision(name):
    count, side = PUBLISHED[name]
    ours = cnn.build(name).eval()
    theirs = reference(name).eval()
    assert n_params(ours) == n_params(theirs) == count
    gen = torch.Generator().manual_seed(0)
    randomize_norms(ours, gen)
    theirs.load_state_dict(ours.state_dict(), strict=True, assign=True)
    x = torch.randn(2, 3, side, side, generator=gen)
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "mobilenet_v2", "efficientnet_b0", "densenet121"])
@torch.no_grad()
def test_small_input_variants_keep_the_body(name):
    """The CIFAR-size stems change only the first layer's kernel, so parameter counts stay close and
    a 32x32 image keeps a spatial map until the global pool."""
    small = cnn.build(name, num_classes=10, small_input=True).eval()
    out = small(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)


@pytest.mark.parametrize(
    ("name", "width", "depth", "count"),
    [("efficientnet_b1", 1.0, 1.1, 7_794_184), ("efficientnet_b2", 1.1, 1.2, 9_109_994)],
)
def test_compound_scaling_gives_torchvisions_b1_and_b2(name, width, depth, count):
    """EfficientNet-B0 scaled by width and depth multipliers has B1's and B2's layers (same tensor names
    and shapes, so the same parameter count); shapes only, on the meta device."""
    tv = torchvision()
    with torch.device("meta"):
        ours = cnn.EfficientNet(1000, width_mult=width, depth_mult=depth)
        theirs = getattr(tv.models, name)()
    shapes = lambda m: {k: tuple(v.shape) for k, v in m.state_dict().items()}  # noqa: E731
    assert shapes(ours) == shapes(theirs)
    assert n_params(ours) == n_params(theirs) == count


def test_resnet_training_step_equals_torchvisions():
    """Train mode (batch statistics) and backward: the same loss and the same gradients, so the ResNet
    benchmark times one computation twice."""
    tv = torchvision()
    torch.manual_seed(0)
    ours, theirs = cnn.ResNet(18, 10), tv.models.resnet18(num_classes=10)
    theirs.load_state_dict(ours.state_dict())
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(4, 3, 32, 32, generator=gen), torch.randint(10, (4,), generator=gen)
    losses = [torch.nn.functional.cross_entropy(m.train()(x), y) for m in (ours, theirs)]
    for loss in losses:
        loss.backward()
    torch.testing.assert_close(losses[0], losses[1])
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-5, msg=name)
