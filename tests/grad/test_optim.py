"""Optimizer trajectories (20 steps), scheduler curves and gradient clipping against torch.optim."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from groundup.grad import Tensor, optim
from groundup.grad.nn import Parameter

pytestmark = pytest.mark.module("0.6")

R = np.random.default_rng(0)
X, Y = R.standard_normal((8, 4)), R.standard_normal((8, 3))
W0, B0 = R.standard_normal((3, 4)) * 0.5, R.standard_normal(3) * 0.1


def ours_loss(w, b):
    pred = Tensor(X) @ w.T + b
    return ((pred - Y) ** 2).mean() + (w * w * w).sum() * 0.01  # non-quadratic so the path bends


def torch_loss(w, b):
    pred = torch.tensor(X) @ w.T + b
    return ((pred - torch.tensor(Y)) ** 2).mean() + (w * w * w).sum() * 0.01


class TorchLion(torch.optim.Optimizer):
    """Lion written from the paper's Algorithm 2 in torch (torch.optim has no Lion)."""

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            b1, b2 = g["betas"]
            for p in g["params"]:
                m = self.state[p].setdefault("m", torch.zeros_like(p))
                p.mul_(1 - g["lr"] * g["weight_decay"])
                p.add_(torch.sign(b1 * m + (1 - b1) * p.grad), alpha=-g["lr"])
                m.mul_(b2).add_(p.grad, alpha=1 - b2)


CONFIGS = {
    "sgd": ("SGD", {"lr": 0.1}),
    "sgd_momentum_dampening": ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.1}),
    "sgd_nesterov_wd": ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    "rmsprop": ("RMSprop", {"lr": 0.01}),
    "rmsprop_centered_momentum_wd": (
        "RMSprop",
        {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1},
    ),
    "adagrad": (
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.05, "initial_accumulator_value": 0.1},
    ),
    "adam": ("Adam", {"lr": 0.01}),
    "adam_amsgrad_wd": ("Adam", {"lr": 0.01, "betas": (0.8, 0.9), "amsgrad": True, "weight_decay": 0.1}),
    "adamw": ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    "lion": ("Lion", {"lr": 0.01, "weight_decay": 0.1}),
    "adafactor": ("Adafactor", {"lr": 0.05}),
    "adafactor_wd": ("Adafactor", {"lr": 0.05, "weight_decay": 0.1, "beta2_decay": -0.5}),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_optimizer_trajectory_matches_torch(name):
    cls, hyper = CONFIGS[name]
    w, b = Parameter(W0.copy()), Parameter(B0.copy())
    tw, tb = torch.tensor(W0.copy(), requires_grad=True), torch.tensor(B0.copy(), requires_grad=True)
    ours = getattr(optim, cls)([w, b], **hyper)
    theirs = TorchLion([tw, tb], **hyper) if cls == "Lion" else getattr(torch.optim, cls)([tw, tb], **hyper)
    for step in range(20):
        ours.zero_grad()
        theirs.zero_grad()
        ours_loss(w, b).backward()
        torch_loss(tw, tb).backward()
        ours.step()
        theirs.step()
        np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-6, atol=1e-10, err_msg=f"step {step}")
        np.testing.assert_allclose(b.data, tb.detach().numpy(), rtol=1e-6, atol=1e-10, err_msg=f"step {step}")


def _torch_opt(lr=0.1):
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)


def _ours_opt(lr=0.1):
    return optim.SGD([Parameter(np.zeros(1))], lr=lr)


def warmup_cosine_torch(opt):
    S = torch.optim.lr_scheduler
    return S.SequentialLR(
        opt,
        [S.LinearLR(opt, 0.1, 1.0, total_iters=5), S.CosineAnnealingLR(opt, T_max=25, eta_min=0.001)],
        milestones=[5],
    )


SCHEDULES = {
    "step": (lambda o: optim.StepLR(o, 7, 0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 7, 0.5)),
    "multistep": (
        lambda o: optim.MultiStepLR(o, [3, 10, 20], 0.3),
        lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [3, 10, 20], 0.3),
    ),
    "exponential": (
        lambda o: optim.ExponentialLR(o, 0.9),
        lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9),
    ),
    "cosine": (
        lambda o: optim.CosineAnnealingLR(o, 30, 0.01),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 30, 0.01),
    ),
    "warm_restarts": (
        lambda o: optim.CosineAnnealingWarmRestarts(o, 4, 2, 0.01),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, 4, 2, 0.01),
    ),
    "warm_restarts_tmult1": (
        lambda o: optim.CosineAnnealingWarmRestarts(o, 6),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, 6),
    ),
    "warmup_cosine": (
        lambda o: optim.WarmupCosineLR(o, 5, 30, start_factor=0.1, eta_min=0.001),
        warmup_cosine_torch,
    ),
    "one_cycle": (
        lambda o: optim.OneCycleLR(o, max_lr=1.0, total_steps=31),
        lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=31, cycle_momentum=False),
    ),
    "polynomial": (
        lambda o: optim.PolynomialLR(o, 20, 2.0),
        lambda o: torch.optim.lr_scheduler.PolynomialLR(o, 20, 2.0),
    ),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_curve_matches_torch(name):
    make_ours, make_theirs = SCHEDULES[name]
    o, t = _ours_opt(), _torch_opt()
    so, st = make_ours(o), make_theirs(t)
    ours, theirs = [so.get_last_lr()[0]], [st.get_last_lr()[0]]
    for _ in range(30):
        t.step()
        so.step()
        st.step()
        ours.append(so.get_last_lr()[0])
        theirs.append(st.get_last_lr()[0])
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-12)


def test_reduce_on_plateau_matches_torch():
    o, t = _ours_opt(), _torch_opt()
    so = optim.ReduceLROnPlateau(o, factor=0.5, patience=2, cooldown=1, min_lr=0.01)
    st = torch.optim.lr_scheduler.ReduceLROnPlateau(t, factor=0.5, patience=2, cooldown=1, min_lr=0.01)
    metrics = [5, 4, 4, 4, 4, 3.9999, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]
    for m in metrics:
        t.step()
        so.step(m)
        st.step(m)
        assert so.get_last_lr()[0] == pytest.approx(st.get_last_lr()[0], rel=1e-12)


def test_gradient_clipping_matches_torch():
    grads = [R.standard_normal((3, 4)) * 5, R.standard_normal(3)]
    ours = [Parameter(np.zeros_like(g)) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, tp, g in zip(ours, theirs, grads):
        p.grad, tp.grad = g.copy(), torch.tensor(g.copy())
    total = optim.clip_grad_norm_(ours, 1.5)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, 1.5)
    assert total == pytest.approx(ttotal.item(), rel=1e-12)
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)
    optim.clip_grad_value_(ours, 0.05)
    torch.nn.utils.clip_grad_value_(theirs, 0.05)
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)
