"""End to end on real MNIST: our training run and a PyTorch twin (same init, batches, Adam) agree.

The default run trains the MLP for 60 steps; the slow ones reproduce the capstone accuracies.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from groundup.grad import Tensor, losses, optim
from groundup.grad.demos.training import accuracy, batches, cnn, fit, load_mnist, make_optimizer, mlp


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


def torch_mlp(ours) -> torch.nn.Module:
    T = torch.nn
    net = T.Sequential(
        T.Flatten(), T.Linear(784, 256), T.ReLU(), T.Linear(256, 128), T.ReLU(), T.Linear(128, 10)
    )
    net.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return net


def train_twins(mnist, epochs: int, max_steps: int | None = None, cosine: bool = False):
    """Our MLP and its torch twin, same init, batches (shifted images), Adam lr 1e-3 (+ cosine decay)."""
    ours = mlp(seed=0)
    theirs = torch_mlp(ours)
    opt, topt = optim.Adam(ours.parameters(), lr=1e-3), torch.optim.Adam(theirs.parameters(), lr=1e-3)
    total = epochs * 32
    sched = optim.CosineAnnealingLR(opt, total) if cosine else None
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, total) if cosine else None
    curve, tcurve = [], []
    with threadpool_limits(1):
        for step, (_, x, y) in enumerate(batches(mnist, epochs, 128, seed=0, augment=True)):
            if step == max_steps:
                break
            loss = losses.cross_entropy(ours(Tensor(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tloss = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
            topt.zero_grad()
            tloss.backward()
            topt.step()
            if cosine:
                sched.step()
                tsched.step()
            curve.append(loss.item())
            tcurve.append(tloss.item())
    return ours, theirs, np.array(curve), np.array(tcurve)


@pytest.mark.module("0.2")
def test_mlp_loss_curve_matches_torch_twin(mnist):
    ours, theirs, curve, tcurve = train_twins(mnist, epochs=2, max_steps=60)
    # float32 on both sides: only rounding differs (measured ~3e-7 over the first 100 steps)
    np.testing.assert_allclose(curve, tcurve, atol=1e-5)
    assert curve[-10:].mean() < 0.4 * curve[:5].mean()
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(dict(ours.named_parameters())[name].data, p.detach().numpy(), atol=1e-5)


@pytest.mark.slow
@pytest.mark.module("0.2")
def test_mlp_capstone_reaches_95_percent_like_torch(mnist):
    """The capstone run (25 epochs): >= 95% test accuracy, within 0.5 points of the torch twin."""
    ours, theirs, curve, tcurve = train_twins(mnist, epochs=25, cosine=True)
    acc = accuracy(ours, mnist.x_test, mnist.y_test)
    theirs.eval()
    with torch.no_grad():
        tacc = float((theirs(torch.tensor(mnist.x_test)).argmax(-1).numpy() == mnist.y_test).mean())
    assert acc >= 0.95
    assert abs(acc - tacc) <= 0.005
    assert np.abs(curve - tcurve).max() < 0.05


@pytest.mark.slow
@pytest.mark.module("0.3")
def test_cnn_capstone_reaches_97_percent(mnist):
    model = cnn(seed=0)
    with threadpool_limits(1):
        history = fit(
            model,
            mnist,
            make_optimizer("adam", model.parameters(), lr=3e-3),
            epochs=12,
            augment=True,
            cosine=True,
        )
    assert history.test_accuracy[-1] >= 0.97
