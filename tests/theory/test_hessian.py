"""Hessian-vector products, top eigenvalues and the trace against the full Hessian from torch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from groundup.theory.hessian import HessianOperator, hutchinson_trace, lanczos, power_iteration

pytestmark = pytest.mark.module("0.9")


def small_problem(seed=0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    x, y = torch.randn(20, 4, dtype=torch.float64), torch.randint(0, 3, (20,))
    params = list(net.parameters())
    shapes = [p.shape for p in params]

    def loss_of(flat):
        chunks, i = [], 0
        for s in shapes:
            n = s.numel()
            chunks.append(flat[i : i + n].view(s))
            i += n
        out = torch.func.functional_call(
            net, dict(zip([k for k, _ in net.named_parameters()], chunks, strict=True)), (x,)
        )
        return nn.functional.cross_entropy(out, y)

    flat = torch.cat([p.detach().reshape(-1) for p in params])
    H = torch.autograd.functional.hessian(loss_of, flat)
    op = HessianOperator(lambda: nn.functional.cross_entropy(net(x), y), params)
    return op, H


@pytest.mark.parametrize("seed", [0, 1])
def test_hvp_equals_hessian_times_vector(seed):
    op, H = small_problem(seed)
    v = torch.randn(op.size, dtype=torch.float64)
    torch.testing.assert_close(op(v), H @ v, rtol=1e-10, atol=1e-10)


def test_power_iteration_finds_the_largest_magnitude_eigenvalues():
    op, H = small_problem()
    exact = torch.linalg.eigvalsh(H)
    top = exact[exact.abs().argsort(descending=True)][:3]
    values, vectors = power_iteration(op, k=3, iters=3000, tol=1e-13)
    torch.testing.assert_close(values, top, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(vectors @ H @ vectors.T, torch.diag(values), rtol=1e-5, atol=1e-5)


def test_lanczos_ritz_values_are_the_spectrum():
    op, H = small_problem()
    exact = torch.linalg.eigvalsh(H)
    ritz = lanczos(op, steps=op.size)
    torch.testing.assert_close(ritz[-5:], exact[-5:], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(ritz[0], exact[0], rtol=1e-6, atol=1e-6)
    few = lanczos(op, steps=20)  # the extremes converge first
    assert abs(few[-1] - exact[-1]) < 1e-6 * abs(exact[-1])


def test_hutchinson_trace_is_unbiased_within_its_standard_error():
    op, H = small_problem()
    estimate, stderr = hutchinson_trace(op, samples=400)
    assert abs(estimate - H.trace().item()) < 4 * stderr
    assert stderr < 0.2 * abs(H.trace().item())
