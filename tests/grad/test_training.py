"""End to end on real MNIST: our training run and a PyTorch twin (same init, batches, Adam) agree.

The default run trains the MLP for 60 steps; the slow ones reproduce the capstone accuracies.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from groundup.grad import Tensor, losses, optim
from groundup.grad.demos.training import batches, cnn, fit, load_mnist, make_optimizer, mlp


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


@pytest.mark.module("0.2")
def test_mlp_loss_curve_matches_torch_twin(mnist):
    ours = mlp(seed=0)
    theirs = torch_mlp(ours)
    opt, topt = optim.Adam(ours.parameters(), lr=1e-3), torch.optim.Adam(theirs.parameters(), lr=1e-3)
    curve, tcurve = [], []
    with threadpool_limits(1):
        for step, (_, x, y) in enumerate(batches(mnist, 2, 128, seed=0, augment=True)):
            if step == 60:
                break
            loss = losses.cross_entropy(ours(Tensor(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tloss = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
            topt.zero_grad()
            tloss.backward()
            topt.step()
            curve.append(loss.item())
            tcurve.append(tloss.item())
    # float32 on both sides: rounding differences grow slowly through Adam's updates
    np.testing.assert_allclose(curve, tcurve, atol=2e-3)
    assert np.mean(curve[-10:]) < 0.4 * np.mean(curve[:5])
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(dict(ours.named_parameters())[name].data, p.detach().numpy(), atol=2e-4)


@pytest.mark.slow
@pytest.mark.module("0.2")
def test_mlp_capstone_reaches_95_percent(mnist):
    model = mlp(seed=0)
    with threadpool_limits(1):
        history = fit(
            model, mnist, make_optimizer("adam", model.parameters()), epochs=25, augment=True, cosine=True
        )
    assert history.test_accuracy[-1] >= 0.95


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
