"""Shared helpers for the grad tests: run the same computation in groundup.grad and in PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from groundup.grad import Tensor


def to_torch(a: np.ndarray, grad: bool = True) -> torch.Tensor:
    t = torch.tensor(a)
    if grad and t.is_floating_point():
        t.requires_grad_(True)
    return t


def compare_with_torch(ours, theirs, arrays, rtol=1e-6, atol=1e-9, seed=0):
    """Forward and input gradients (for a random upstream gradient) of ours vs torch; returns max abs diff."""
    ts = [Tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays]
    tts = [to_torch(a.copy()) for a in arrays]
    out, ref = ours(*ts), theirs(*tts)
    assert out.shape == tuple(ref.shape), f"shape {out.shape} vs torch {tuple(ref.shape)}"
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=atol)
    upstream = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
    out.backward(upstream)
    ref.backward(torch.tensor(upstream))
    worst = float(np.max(np.abs(out.data - ref.detach().numpy()), initial=0))
    for t, tt in zip(ts, tts):
        if t.requires_grad:
            expected = tt.grad.numpy() if tt.grad is not None else np.zeros_like(t.data)
            got = t.grad if t.grad is not None else np.zeros_like(t.data)
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
            worst = max(worst, float(np.max(np.abs(got - expected), initial=0)))
    return worst


def copy_weights(ours, theirs) -> None:
    """Copy a torch module's parameters and buffers into our module with the same names."""
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})


@pytest.fixture
def compare():
    return compare_with_torch


@pytest.fixture
def copy_torch_weights():
    return copy_weights
