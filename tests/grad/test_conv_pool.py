"""conv2d (stride, padding, dilation, groups), max/avg pooling and embedding against torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch.nn.functional as TF

from groundup.grad import Tensor, conv, gradcheck
from groundup.grad import functional as F

pytestmark = pytest.mark.module("0.3")

CONV_CASES = [
    # (x shape, weight shape, stride, padding, dilation, groups)
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 0, 1, 1),
    ((2, 3, 7, 6), (4, 3, 3, 2), 2, 1, 1, 1),
    ((1, 4, 8, 8), (6, 2, 3, 3), 1, 2, 2, 2),
    ((2, 4, 6, 7), (4, 1, 2, 3), (2, 1), (1, 0), (1, 2), 4),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}-{c[1]}-s{c[2]}p{c[3]}d{c[4]}g{c[5]}")
@pytest.mark.parametrize("dtype,rtol,atol", [(np.float64, 1e-9, 1e-11), (np.float32, 1e-4, 1e-5)])
def test_conv2d_matches_torch(case, dtype, rtol, atol, compare):
    xs, ws, s, p, d, g = case
    rng = np.random.default_rng(0)
    arrays = [
        rng.standard_normal(xs).astype(dtype),
        rng.standard_normal(ws).astype(dtype),
        rng.standard_normal(ws[0]).astype(dtype),
    ]
    compare(
        lambda x, w, b: conv.conv2d(x, w, b, s, p, d, g),
        lambda x, w, b: TF.conv2d(x, w, b, s, p, d, g),
        arrays,
        rtol=rtol,
        atol=atol,
    )


@pytest.mark.parametrize(
    "kernel,stride,padding,dilation", [(2, None, 0, 1), (3, 2, 1, 1), ((2, 3), (1, 2), (1, 1), (2, 1))]
)
def test_max_pool2d_matches_torch(kernel, stride, padding, dilation, compare):
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 8))
    compare(
        lambda t: conv.max_pool2d(t, kernel, stride, padding, dilation),
        lambda t: TF.max_pool2d(t, kernel, stride, padding, dilation),
        [x],
        rtol=1e-12,
    )


def test_max_pool2d_ties_send_the_gradient_to_the_first_maximum(compare):
    """Repeated values (a quantised image): the gradient goes where torch sends it, to the first tap."""
    x = np.random.default_rng(2).integers(0, 3, (2, 3, 8, 8)).astype(np.float64)
    compare(lambda t: conv.max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2), [x], rtol=1e-12)


@pytest.mark.parametrize("kernel,stride,padding", [(2, None, 0), (3, 2, 1), ((2, 3), (1, 2), (1, 1))])
def test_avg_pool2d_matches_torch(kernel, stride, padding, compare):
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 8))
    compare(
        lambda t: conv.avg_pool2d(t, kernel, stride, padding),
        lambda t: TF.avg_pool2d(t, kernel, stride, padding),
        [x],
        rtol=1e-12,
    )


def test_conv_and_pool_gradcheck():
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True)
    w = Tensor(rng.standard_normal((2, 1, 2, 2)), requires_grad=True)
    b = Tensor(rng.standard_normal(2), requires_grad=True)
    gradcheck(lambda x, w, b: conv.conv2d(x, w, b, 2, 1, 1, 2), [x, w, b])
    gradcheck(lambda x: conv.avg_pool2d(x, 2, 1, 1), [x])
    gradcheck(lambda x: conv.max_pool2d(x, 2, 1), [x])


def test_embedding_matches_torch(compare):
    idx = np.array([[1, 3, 1], [0, 4, 4]])
    w = np.random.default_rng(4).standard_normal((5, 3))
    compare(lambda t: F.embedding(idx, t), lambda t: TF.embedding(__import__("torch").tensor(idx), t), [w])


def test_conv_shape_errors():
    x, w = Tensor(np.ones((1, 3, 5, 5))), Tensor(np.ones((4, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"\(1, 3, 5, 5\).*\(4, 2, 3, 3\)"):
        conv.conv2d(x, w)
