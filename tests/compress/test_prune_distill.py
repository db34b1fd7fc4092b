"""Pruning masks against torch.nn.utils.prune; schedules; lottery-ticket rewinding; distillation loss."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
import torch.nn.utils.prune as torch_prune
from torch import nn

from groundup.compress import (
    apply_masks,
    channel_mask,
    distill,
    distillation_loss,
    head_mask,
    head_scores,
    iterative_prune,
    lottery_ticket,
    magnitude_masks,
    remove_neurons,
    sparsity,
    sparsity_schedule,
)

pytestmark = pytest.mark.module("1.3")


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 3))


@pytest.mark.parametrize("amount", [0.3, 0.5, 0.9])
def test_per_layer_masks_match_torch_l1_unstructured(amount):
    model = mlp()
    ours = magnitude_masks(model, amount, "layer")
    ref = copy.deepcopy(model)
    for name in ("0", "2", "4"):
        torch_prune.l1_unstructured(ref.get_submodule(name), "weight", amount)
        assert torch.equal(ours[f"{name}.weight"], ref.get_submodule(name).weight_mask)


@pytest.mark.parametrize("amount", [0.3, 0.7])
def test_global_masks_match_torch_global_unstructured(amount):
    model = mlp()
    ours = magnitude_masks(model, amount, "global")
    ref = copy.deepcopy(model)
    params = [(ref.get_submodule(n), "weight") for n in ("0", "2", "4")]
    torch_prune.global_unstructured(params, pruning_method=torch_prune.L1Unstructured, amount=amount)
    for n in ("0", "2", "4"):
        assert torch.equal(ours[f"{n}.weight"], ref.get_submodule(n).weight_mask)
    apply_masks(model, ours)
    assert sparsity(model) == pytest.approx(amount, abs=1e-3)


@pytest.mark.parametrize(("dim", "p"), [(0, 2), (1, 1)])
def test_channel_masks_match_torch_ln_structured(dim, p):
    conv = nn.Conv2d(6, 10, 3)
    ours = channel_mask(conv.weight, 0.4, dim=dim, p=p)
    torch_prune.ln_structured(conv, "weight", amount=0.4, n=p, dim=dim)
    assert torch.equal(ours, conv.weight_mask)


def test_head_mask_drops_the_weakest_heads():
    w_o = torch.randn(32, 32)
    w_o[:, 8:16] *= 0.01  # head 1 of 4 barely contributes
    assert head_scores(w_o, 4).argmin() == 1
    assert head_mask(w_o, 4, 0.25).tolist() == [1, 0, 1, 1]


def test_remove_neurons_equals_zeroing_their_outputs():
    model = mlp()
    fc1, fc2 = model[0], model[2]
    small1, small2 = remove_neurons(fc1, fc2, 0.5)
    assert small1.out_features == 16 and small2.in_features == 16
    keep = channel_mask(fc1.weight, 0.5)[:, 0]
    x = torch.randn(7, 20)
    torch.testing.assert_close(
        small2(torch.relu(small1(x))), fc2(torch.relu(fc1(x)) * keep), rtol=1e-6, atol=1e-6
    )


def test_sparsity_schedule_and_iterative_pruning_reach_the_target_with_growing_masks():
    assert sparsity_schedule(0.75, 2) == pytest.approx([0.5, 0.75])
    model, history = mlp(), []

    def finetune(m, masks):
        with torch.no_grad():
            for p in m.parameters():
                p.add_(0.01 * torch.randn_like(p))  # stand-in for training steps
        apply_masks(m, masks)
        history.append({k: v.clone() for k, v in masks.items()})

    masks = iterative_prune(model, 0.9, 3, finetune)
    assert sparsity(model) == pytest.approx(0.9, abs=1e-3)
    for earlier, later in zip(history, history[1:]):
        assert all(torch.all(later[k] <= earlier[k]) for k in earlier)  # once pruned, stays pruned
    assert masks.keys() == history[-1].keys()


def test_lottery_ticket_rewinds_survivors_to_their_initial_values():
    model = mlp()
    init = copy.deepcopy(model.state_dict())
    trained = []

    def train(m, masks):
        with torch.no_grad():
            for p in m.parameters():
                p.mul_(1.5)
        apply_masks(m, masks)
        trained.append(copy.deepcopy(m.state_dict()))

    ticket, masks = lottery_ticket(model, train, 0.5, rounds=1)
    before_final_training = {k: v / 1.5 for k, v in trained[-1].items()}
    for name, mask in masks.items():
        torch.testing.assert_close(before_final_training[name], init[name] * mask)


def test_distillation_loss_equals_its_definition_with_torch_kl():
    s, t, y = torch.randn(16, 10), torch.randn(16, 10), torch.randint(0, 10, (16,))
    temperature, alpha = 3.0, 0.7
    kl = F.kl_div(
        F.log_softmax(s / temperature, -1),
        F.log_softmax(t / temperature, -1),
        reduction="batchmean",
        log_target=True,
    )
    expected = alpha * temperature**2 * kl + (1 - alpha) * F.cross_entropy(s, y)
    torch.testing.assert_close(distillation_loss(s, t, y, temperature, alpha), expected)
    assert distillation_loss(t, t, y, temperature, 1.0).abs() < 1e-6


def test_distillation_moves_the_student_towards_the_teacher():
    torch.manual_seed(0)
    teacher, student = mlp(1), nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 3))
    x = torch.randn(256, 20)
    y = teacher(x).argmax(-1)
    opt = torch.optim.Adam(student.parameters(), lr=1e-2)

    def gap():
        return F.kl_div(
            F.log_softmax(student(x), -1),
            F.log_softmax(teacher(x), -1),
            log_target=True,
            reduction="batchmean",
        ).item()

    before = gap()
    for _ in range(20):
        distill(teacher, student, [(x, y)], opt, temperature=2.0, alpha=0.9)
    assert gap() < before / 2
    with pytest.raises(ValueError, match="batches is empty"):
        distill(teacher, student, [], opt)
