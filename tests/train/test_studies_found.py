"""Small checks of the 0.4 / 0.7 studies' building blocks: the RNN's gradient vanishes over time
steps, the adding problem is what it says, and the deep makemore MLP's statistics are collected."""

from __future__ import annotations

import pytest
import torch

from groundup.train.studies.makemore_stats import DeepMLP, train_with_stats, windows
from groundup.train.studies.rnn_lengths import AddingModel, gradient_per_step
from groundup.train.studies.seq_data import adding_problem


@pytest.mark.module("0.4")
def test_adding_problem_has_two_markers_and_their_sum():
    x, y = adding_problem(16, 30, torch.Generator().manual_seed(0))
    assert x.shape == (16, 30, 2) and torch.all(x[..., 1].sum(1) == 2)
    torch.testing.assert_close(y, (x[..., 0] * x[..., 1]).sum(1))


@pytest.mark.module("0.4")
def test_vanilla_rnn_gradient_vanishes_towards_early_steps():
    torch.manual_seed(0)
    grads = gradient_per_step(AddingModel("rnn"), 50)
    assert grads.shape == (50,)
    assert grads[0] < 1e-2 * grads[-1], (grads[0].item(), grads[-1].item())


@pytest.mark.module("0.7")
def test_deep_mlp_statistics_and_batchnorm_scale_invariance():
    torch.manual_seed(0)
    ids = torch.randint(0, 20, (2000,))
    X, Y = windows(ids, 3)
    assert X.shape == (1997, 3) and torch.equal(X[5], ids[5:8]) and Y[5] == ids[8]
    model = DeepMLP(20, depth=3, n_hidden=32, batchnorm=True)
    losses, ud, acts, grads, ratios, _, _ = train_with_stats(model, X, Y, steps=20)
    assert len(losses) == 20 and len(ud) == 20 and len(ud[0]) == 4 and len(acts) == len(grads) == 3
    assert all(0 <= a["saturated"] <= 1 for a in acts) and all(r > 0 for r in ratios)
    x = X[:64]
    before = model(x)
    with torch.no_grad():
        for layer in model.linears[:-1]:
            layer.weight *= 10  # BatchNorm undoes any scale of the weights before it
    torch.testing.assert_close(model(x), before, atol=1e-4, rtol=1e-4)
