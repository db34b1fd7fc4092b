"""Every Tensor op against torch autograd (float64, forward and input gradients) and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from groundup.grad import Tensor, clip, concatenate, gradcheck, maximum, pad, split, stack, where
from groundup.grad import functional as F

pytestmark = pytest.mark.module("0.2")

R = np.random.default_rng(0)
MASK = R.random((3, 4)) > 0.5
IDX = np.array([2, 0, 2, 1])

# name -> (ours, torch, input shapes, domain): domain "pos" draws inputs from (0.5, 2)
CASES = {
    "add_broadcast": (lambda a, b: a + b, lambda a, b: a + b, [(3, 4), (4,)], None),
    "sub_broadcast": (lambda a, b: a - b, lambda a, b: a - b, [(2, 1, 4), (3, 1)], None),
    "mul_broadcast": (lambda a, b: a * b, lambda a, b: a * b, [(3, 1), (1, 4)], None),
    "div_broadcast": (lambda a, b: a / b, lambda a, b: a / b, [(3, 4), (3, 1)], "pos"),
    "rsub_scalar": (lambda a: 2.0 - a, lambda a: 2.0 - a, [(3,)], None),
    "rdiv_scalar": (lambda a: 2.0 / a, lambda a: 2.0 / a, [(3,)], "pos"),
    "pow_const": (lambda a: a**2.5, lambda a: a**2.5, [(3, 4)], "pos"),
    "pow_tensor": (lambda a, b: a**b, lambda a, b: a**b, [(3, 4), (4,)], "pos"),
    "neg": (lambda a: -a, lambda a: -a, [(3, 4)], None),
    "matmul_2d": (lambda a, b: a @ b, lambda a, b: a @ b, [(3, 4), (4, 5)], None),
    "matmul_batched": (lambda a, b: a @ b, lambda a, b: a @ b, [(2, 3, 4), (4, 5)], None),
    "matmul_broadcast": (lambda a, b: a @ b, lambda a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)], None),
    "matmul_vec_mat": (lambda a, b: a @ b, lambda a, b: a @ b, [(4,), (2, 4, 5)], None),
    "matmul_mat_vec": (lambda a, b: a @ b, lambda a, b: a @ b, [(2, 3, 4), (4,)], None),
    "sum_all": (lambda a: a.sum(), lambda a: a.sum(), [(3, 4)], None),
    "sum_axis_keep": (lambda a: a.sum(1, keepdims=True), lambda a: a.sum(1, keepdim=True), [(2, 3, 4)], None),
    "sum_axes": (lambda a: a.sum((0, 2)), lambda a: a.sum((0, 2)), [(2, 3, 4)], None),
    "mean_axis": (lambda a: a.mean(-1), lambda a: a.mean(-1), [(2, 3, 4)], None),
    "max_axis": (lambda a: a.max(1), lambda a: a.amax(1), [(2, 3, 4)], None),
    "min_all": (lambda a: a.min(), lambda a: a.amin(), [(3, 4)], None),
    "max_keep": (lambda a: a.max(0, keepdims=True), lambda a: a.amax(0, keepdim=True), [(3, 4)], None),
    "var_axis": (lambda a: a.var(1), lambda a: a.var(1), [(3, 5)], None),
    "var_biased_keep": (
        lambda a: a.var(0, True, 0),
        lambda a: a.var(0, keepdim=True, correction=0),
        [(4, 3)],
        None,
    ),
    "std_all": (lambda a: a.std(), lambda a: a.std(), [(3, 4)], None),
    "reshape": (lambda a: a.reshape(4, 3), lambda a: a.reshape(4, 3), [(3, 4)], None),
    "view_infer": (lambda a: a.view(-1, 2), lambda a: a.view(-1, 2), [(3, 4)], None),
    "transpose": (lambda a: a.transpose(0, 2), lambda a: a.transpose(0, 2), [(2, 3, 4)], None),
    "permute": (lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1), [(2, 3, 4)], None),
    "getitem_slice": (lambda a: a[1:, ::2], lambda a: a[1:, ::2], [(3, 4)], None),
    "getitem_int_array": (lambda a: a[IDX], lambda a: a[torch.tensor(IDX)], [(3, 4)], None),
    "getitem_bool": (lambda a: a[MASK], lambda a: a[torch.tensor(MASK)], [(3, 4)], None),
    "getitem_mixed": (lambda a: a[IDX, 1:3], lambda a: a[torch.tensor(IDX), 1:3], [(3, 4)], None),
    "concatenate": (
        lambda a, b: concatenate([a, b], 1),
        lambda a, b: torch.cat([a, b], 1),
        [(2, 3), (2, 2)],
        None,
    ),
    "stack": (lambda a, b: stack([a, b], 1), lambda a, b: torch.stack([a, b], 1), [(2, 3), (2, 3)], None),
    "split": (
        lambda a: split(a, 2, 1)[1] * 2 + split(a, [1, 4], 1)[0].sum(),
        lambda a: torch.split(a, 2, 1)[1] * 2 + torch.split(a, [1, 4], 1)[0].sum(),
        [(3, 5)],
        None,
    ),
    "pad": (
        lambda a: pad(a, [(1, 0), (2, 1)], 0.5),
        lambda a: TF.pad(a, (2, 1, 1, 0), value=0.5),
        [(3, 4)],
        None,
    ),
    "exp": (lambda a: a.exp(), torch.exp, [(3, 4)], None),
    "log": (lambda a: a.log(), torch.log, [(3, 4)], "pos"),
    "sqrt": (lambda a: a.sqrt(), torch.sqrt, [(3, 4)], "pos"),
    "abs": (lambda a: a.abs(), torch.abs, [(3, 4)], None),
    "tanh": (F.tanh, torch.tanh, [(3, 4)], None),
    "sigmoid": (F.sigmoid, torch.sigmoid, [(3, 4)], None),
    "relu": (F.relu, torch.relu, [(3, 4)], None),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.1), lambda a: TF.leaky_relu(a, 0.1), [(3, 4)], None),
    "elu": (lambda a: F.elu(a, 0.7), lambda a: TF.elu(a, 0.7), [(3, 4)], None),
    "gelu": (F.gelu, TF.gelu, [(3, 4)], None),
    "gelu_tanh": (lambda a: F.gelu(a, "tanh"), lambda a: TF.gelu(a, approximate="tanh"), [(3, 4)], None),
    "silu": (F.silu, TF.silu, [(3, 4)], None),
    "softplus": (
        lambda a: F.softplus(a * 15, 1.5, 20),
        lambda a: TF.softplus(a * 15, 1.5, 20),
        [(3, 4)],
        None,
    ),
    "softmax": (lambda a: F.softmax(a, 0), lambda a: torch.softmax(a, 0), [(3, 4)], None),
    "log_softmax": (F.log_softmax, lambda a: torch.log_softmax(a, -1), [(3, 4)], None),
    "logsumexp": (lambda a: F.logsumexp(a, 1), lambda a: torch.logsumexp(a, 1), [(3, 4)], None),
    "where": (
        lambda a, b: where(MASK, a, b),
        lambda a, b: torch.where(torch.tensor(MASK), a, b),
        [(3, 4), (4,)],
        None,
    ),
    "clip": (lambda a: clip(a, -0.5, 0.3), lambda a: torch.clamp(a, -0.5, 0.3), [(3, 4)], None),
    "maximum": (maximum, torch.maximum, [(3, 4), (4,)], None),
    "linear": (F.linear, TF.linear, [(5, 3), (4, 3), (4,)], None),
}


def draw(shapes, domain, dtype=np.float64, seed=1):
    rng = np.random.default_rng(seed)
    if domain == "pos":
        return [rng.uniform(0.5, 2.0, s).astype(dtype) for s in shapes]
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("name", CASES)
def test_op_matches_torch_float64(name, compare):
    ours, theirs, shapes, domain = CASES[name]
    compare(ours, theirs, draw(shapes, domain), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_op_matches_torch_float32(name, compare):
    """float32: same results up to float32 rounding (documented tolerance rtol 1e-4, atol 1e-5)."""
    ours, theirs, shapes, domain = CASES[name]
    compare(ours, theirs, draw(shapes, domain, np.float32), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "name", [n for n in CASES if not n.startswith(("max", "min", "abs", "relu", "clip"))]
)
def test_op_gradcheck(name):
    """Finite differences; kinks (max, abs, relu, clip) are checked against torch above instead."""
    ours, _, shapes, domain = CASES[name]
    inputs = [Tensor(a, requires_grad=True) for a in draw(shapes, domain)]
    gradcheck(ours, inputs, atol=1e-6, rtol=1e-5)


def test_ops_keep_float32():
    x = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    y = F.gelu(x * 2.0 + 1).sum() / 3
    y.backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_gradient_accumulates_and_detach_no_grad():
    from groundup.grad import no_grad

    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 3)
    assert not (x.detach() * 2).requires_grad
    with no_grad():
        y = x * 2
    assert not y.requires_grad and y._backward is None


def test_shared_subexpression_and_explicit_gradient():
    a = np.random.default_rng(3).standard_normal((2, 3))
    x, tx = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = x.tanh(), tx.tanh()
    z, tz = y * y + y.exp() * x, ty * ty + ty.exp() * tx
    g = np.ones((2, 3)) * 0.5
    z.backward(g)
    tz.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12)


def test_bad_input_errors_name_shapes_and_op():
    a, b = Tensor(np.ones((2, 3)), requires_grad=True), Tensor(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4, 3\)"):
        a + b
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 3\)"):
        a @ b
    with pytest.raises(ValueError, match="non-scalar.*gradient"):
        (a * 2).backward()
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\)"):
        a.reshape(4, 2)
