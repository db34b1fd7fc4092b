"""Zero to Hero part 4 (0.7): the hand-written backward through the makemore MLP (embedding, Linear,
BatchNorm, tanh, Linear, cross-entropy) equals autograd for every intermediate tensor, the fused
cross-entropy and batchnorm rules equal it too, and training on the manual gradients alone equals
training with loss.backward()."""

from __future__ import annotations

import pytest
import torch

from groundup.models.makemore_backprop import (
    PARAMS,
    backward,
    forward,
    fused_backward,
    init_params,
    train_manual,
)

pytestmark = pytest.mark.module("0.7")


def batch(n=32, vocab=27, block=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (n, block), generator=g), torch.randint(0, vocab, (n,), generator=g)


def autograd(p, Xb, Yb):
    params = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    cache = forward(params, Xb, Yb)
    for t in cache.values():
        t.retain_grad()
    cache["loss"].backward()
    return cache, {
        **{k: t.grad for k, t in cache.items() if k != "loss"},
        **{k: params[k].grad for k in PARAMS},
    }


def test_every_intermediate_gradient_equals_autograd():
    p, (Xb, Yb) = init_params(), batch()
    cache, expected = autograd(p, Xb, Yb)
    ours = backward(p, {k: v.detach() for k, v in cache.items()}, Xb, Yb)
    assert set(ours) == set(expected)  # 20 intermediates and 7 parameters
    for name, grad in expected.items():
        torch.testing.assert_close(ours[name], grad, rtol=1e-10, atol=1e-13, msg=name)


def test_fused_cross_entropy_and_batchnorm_rules_equal_autograd():
    p, (Xb, Yb) = init_params(seed=2), batch(seed=3)
    cache, expected = autograd(p, Xb, Yb)
    ours = fused_backward(p, {k: v.detach() for k, v in cache.items()}, Xb, Yb)
    for name in ("logits", "hprebn", *PARAMS):
        torch.testing.assert_close(ours[name], expected[name], rtol=1e-10, atol=1e-13, msg=name)


def test_training_on_manual_gradients_equals_autograd_training():
    X, Y = batch(n=2000, seed=4)
    Y = (X.sum(1) % 27).long()  # a learnable target: the sum of the context mod 27
    manual = init_params(seed=5)
    losses = train_manual(manual, X, Y, steps=60, lr=0.2)
    ref = {k: v.clone().requires_grad_(True) for k, v in init_params(seed=5).items()}
    g = torch.Generator().manual_seed(0)
    ref_losses = []
    for _ in range(60):
        ix = torch.randint(0, X.shape[0], (32,), generator=g)
        loss = forward(ref, X[ix], Y[ix])["loss"]
        for t in ref.values():
            t.grad = None
        loss.backward()
        with torch.no_grad():
            for t in ref.values():
                t -= 0.2 * t.grad
        ref_losses.append(loss.item())
    assert losses == pytest.approx(ref_losses, rel=1e-9)
    assert sum(losses[-10:]) < sum(losses[:10])
