"""Grad-CAM and Grad-CAM++ against a closed form on a GAP + Linear network, and against the grad-cam
package (pytorch-grad-cam) on a small CNN; the unknown-layer error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from groundup.vision.gradcam import (
    LayerNotFoundError,
    activations_and_gradients,
    cam_weights,
    grad_cam,
    normalize,
)
from tests.vision.tvref import pytorch_grad_cam

pytestmark = pytest.mark.module("3.3")


class GapNet(nn.Module):
    """conv -> relu (the hooked layer 'act') -> global average pool -> Linear: y_c = sum_k W_ck mean(A_k)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(self.act(self.conv(x)).mean(dim=(2, 3)))


def small_cnn():
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5),
    ).eval()  # fmt: skip


def test_gradcam_is_the_class_activation_map_on_gap_networks():
    model = GapNet().eval()
    x = torch.randn(2, 1, 6, 6)
    target = torch.tensor([0, 2])
    with torch.no_grad():
        a = model.act(model.conv(x))  # (2, 4, 6, 6)
    cam_closed = F.relu(torch.einsum("bk,bkij->bij", model.fc.weight[target], a))  # relu(sum_k W_ck A_k)
    torch.testing.assert_close(grad_cam(model, "act", x, target), normalize(cam_closed))
    # Grad-CAM++ with the constant gradient g_k = W_ck / 36: alpha = g^2 / (2 g^2 + S_k g^3)
    g = (model.fc.weight[target] / 36)[:, :, None, None].expand_as(a)
    alpha = torch.where(g != 0, g**2 / (2 * g**2 + a.sum((2, 3), keepdim=True) * g**3), 0.0)
    w = (alpha * F.relu(g)).sum((2, 3))
    plus_closed = F.relu(torch.einsum("bk,bkij->bij", w, a))
    torch.testing.assert_close(grad_cam(model, "act", x, target, "gradcam++"), normalize(plus_closed))


def test_hooks_give_autograd_gradients():
    model = GapNet().eval()
    x = torch.randn(1, 1, 5, 5)
    a, g, c = activations_and_gradients(model, "act", x)
    assert c.item() == int(model(x).argmax())
    torch.testing.assert_close(g[0], (model.fc.weight[c[0]] / 25)[:, None, None].expand(4, 5, 5))
    assert not model.conv.weight.grad  # the model's own gradients are untouched


@pytest.mark.parametrize("method", ["gradcam", "gradcam++"])
def test_matches_pytorch_grad_cam(method):
    pgc = pytorch_grad_cam()
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model = small_cnn()
    x = torch.randn(3, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    targets = [1, 4, 0]
    cls = pgc.GradCAM if method == "gradcam" else pgc.GradCAMPlusPlus
    with cls(model=model, target_layers=[model[3]]) as cam:  # a full-resolution layer: no resizing
        theirs = cam(input_tensor=x, targets=[ClassifierOutputTarget(t) for t in targets])
    ours = grad_cam(model, "3", x, torch.tensor(targets), method, eps=1e-6)  # the package's guard
    np.testing.assert_allclose(ours.numpy(), normalize(torch.from_numpy(theirs)).numpy(), atol=1e-4)


def test_unknown_layer_lists_the_valid_names():
    with pytest.raises(LayerNotFoundError, match=r"no layer 'conv9'.*valid layer names: conv, act, fc"):
        grad_cam(GapNet(), "conv9", torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="method"):
        cam_weights(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), "scorecam")
