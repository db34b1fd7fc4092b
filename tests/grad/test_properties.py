"""Hypothesis: broadcasting binary ops and reductions over random shapes agree with torch autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from groundup.grad import Tensor

pytestmark = pytest.mark.module("0.2")

OPS = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / (b * b + 1), lambda a, b: a / (b * b + 1)),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
}


def grads(ours_out, ref_out, ts, tts):
    g = np.random.default_rng(0).standard_normal(ours_out.shape)
    ours_out.backward(g)
    ref_out.backward(torch.tensor(g))
    for t, tt in zip(ts, tts):
        np.testing.assert_allclose(t.grad, tt.grad.numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=3),
    op=st.sampled_from(sorted(OPS)),
)
def test_broadcasting_backward_sums_to_input_shape(shapes, op):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s) for s in shapes.input_shapes]
    ts = [Tensor(a, requires_grad=True) for a in arrays]
    tts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours, theirs = OPS[op]
    out, ref = ours(*ts), theirs(*tts)
    assert out.shape == tuple(ref.shape) == shapes.result_shape
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12)
    grads(out, ref, ts, tts)
    for t, a in zip(ts, arrays):
        assert t.grad.shape == a.shape


@st.composite
def reduction_case(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=2, max_side=4))
    axes = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True))
    return (
        shape,
        tuple(sorted(axes)),
        draw(st.booleans()),
        draw(st.sampled_from(["sum", "mean", "max", "min", "var", "std"])),
    )


@settings(max_examples=60, deadline=None)
@given(case=reduction_case())
def test_reductions_over_random_axes(case):
    shape, axes, keep, name = case
    a = np.random.default_rng(2).standard_normal(shape)
    t, tt = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    out = getattr(t, name)(axes, keepdims=keep)
    torch_name = {"max": "amax", "min": "amin"}.get(name, name)
    ref = getattr(tt, torch_name)(axes, keepdim=keep)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    grads(out, ref, [t], [tt])
