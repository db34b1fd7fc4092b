"""Every loss against its PyTorch counterpart (or the paper's formula written in torch), float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from groundup.grad import Tensor, gradcheck
from groundup.grad import functional as F
from groundup.grad import losses as L

pytestmark = pytest.mark.module("0.2")

R = np.random.default_rng(0)
N, C = 6, 4
LABELS = np.array([0, 3, 1, 1, 2, 3])
LABELS_IGNORE = np.array([0, -100, 1, 1, -100, 3])
PROBS = R.dirichlet(np.ones(C), N)
BINARY = (R.random((N, C)) > 0.5).astype(np.float64)
SAME = np.array([1.0, 0.0, 1.0, 0.0, 0.0, 1.0])


def torch_focal(x, y, alpha=0.25, gamma=2.0):
    """torchvision.ops.sigmoid_focal_loss, written out."""
    p = torch.sigmoid(x)
    ce = TF.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    return (ce * (1 - p_t) ** gamma * (alpha * y + (1 - alpha) * (1 - y))).mean()


def torch_info_nce(q, k, temperature=0.1):
    logits = TF.normalize(q, dim=-1) @ TF.normalize(k, dim=-1).T / temperature
    return TF.cross_entropy(logits, torch.arange(len(q)))


def torch_contrastive(a, b, same, margin=1.0):
    d = TF.pairwise_distance(a, b)
    return (0.5 * (same * d**2 + (1 - same) * torch.clamp(margin - d, min=0) ** 2)).mean()


T = torch.tensor
CASES = {
    "mse": (lambda x: L.mse_loss(x, PROBS), lambda x: TF.mse_loss(x, T(PROBS)), [(N, C)]),
    "mse_sum": (
        lambda x: L.mse_loss(x, PROBS, "sum"),
        lambda x: TF.mse_loss(x, T(PROBS), reduction="sum"),
        [(N, C)],
    ),
    "l1": (lambda x: L.l1_loss(x, PROBS), lambda x: TF.l1_loss(x, T(PROBS)), [(N, C)]),
    "huber": (
        lambda x: L.huber_loss(x * 2, PROBS, 0.7),
        lambda x: TF.huber_loss(x * 2, T(PROBS), delta=0.7),
        [(N, C)],
    ),
    "bce": (
        lambda x: L.binary_cross_entropy(x.sigmoid(), BINARY),
        lambda x: TF.binary_cross_entropy(x.sigmoid(), T(BINARY)),
        [(N, C)],
    ),
    "bce_logits": (
        lambda x: L.binary_cross_entropy_with_logits(x * 30, BINARY),
        lambda x: TF.binary_cross_entropy_with_logits(x * 30, T(BINARY)),
        [(N, C)],
    ),
    "cross_entropy": (
        lambda x: L.cross_entropy(x, LABELS),
        lambda x: TF.cross_entropy(x, T(LABELS)),
        [(N, C)],
    ),
    "cross_entropy_probs_smooth": (
        lambda x: L.cross_entropy(x, PROBS, label_smoothing=0.1),
        lambda x: TF.cross_entropy(x, T(PROBS), label_smoothing=0.1),
        [(N, C)],
    ),
    "cross_entropy_ignore_smooth": (
        lambda x: L.cross_entropy(x, LABELS_IGNORE, label_smoothing=0.2),
        lambda x: TF.cross_entropy(x, T(LABELS_IGNORE), label_smoothing=0.2),
        [(N, C)],
    ),
    "cross_entropy_sum_smooth": (
        lambda x: L.cross_entropy(x, LABELS_IGNORE, label_smoothing=0.2, reduction="sum"),
        lambda x: TF.cross_entropy(x, T(LABELS_IGNORE), label_smoothing=0.2, reduction="sum"),
        [(N, C)],
    ),
    "nll_ignore": (
        lambda x: L.nll_loss(x, LABELS_IGNORE),
        lambda x: TF.nll_loss(x, T(LABELS_IGNORE)),
        [(N, C)],
    ),
    "focal": (lambda x: L.focal_loss(x, BINARY), lambda x: torch_focal(x, T(BINARY)), [(N, C)]),
    "multi_margin": (
        lambda x: L.multi_margin_loss(x, LABELS),
        lambda x: TF.multi_margin_loss(x, T(LABELS)),
        [(N, C)],
    ),
    "kl_div": (
        lambda x: L.kl_div(F.log_softmax(x), PROBS),
        lambda x: TF.kl_div(torch.log_softmax(x, -1), T(PROBS), reduction="batchmean"),
        [(N, C)],
    ),
    "kl_div_log_target": (
        lambda x: L.kl_div(x, np.log(PROBS), reduction="sum", log_target=True),
        lambda x: TF.kl_div(x, T(np.log(PROBS)), reduction="sum", log_target=True),
        [(N, C)],
    ),
    "info_nce": (L.info_nce, torch_info_nce, [(N, C), (N, C)]),
    "triplet": (
        lambda a, p, n: L.triplet_margin_loss(a, p, n, margin=2.0),
        lambda a, p, n: TF.triplet_margin_loss(a, p, n, margin=2.0),
        [(N, C)] * 3,
    ),
    "contrastive": (
        lambda a, b: L.contrastive_loss(a, b, SAME, margin=3.0),
        lambda a, b: torch_contrastive(a, b, T(SAME), margin=3.0),
        [(N, C)] * 2,
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_loss_matches_torch(name, compare):
    ours, theirs, shapes = CASES[name]
    arrays = [np.random.default_rng(i + 1).standard_normal(s) for i, s in enumerate(shapes)]
    compare(ours, theirs, arrays, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_loss_gradcheck(name):
    ours, _, shapes = CASES[name]
    inputs = [
        Tensor(np.random.default_rng(i + 1).standard_normal(s), requires_grad=True)
        for i, s in enumerate(shapes)
    ]
    gradcheck(ours, inputs)


def test_loss_shape_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"mse_loss.*\(2, 3\).*\(3, 2\)"):
        L.mse_loss(Tensor(np.ones((2, 3))), np.ones((3, 2)))
