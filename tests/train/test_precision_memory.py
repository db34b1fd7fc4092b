"""Mixed precision, gradient checkpointing and torch.compile (0.8): loss scaling skips overflowing steps
and halves the scale, checkpointed blocks give the same gradients with less saved activation memory,
and a compiled model computes the eager loss."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from groundup.models.gpt import GPT, GPTConfig
from groundup.train.amp import Precision
from groundup.train.grad_checkpoint import Checkpointed, checkpoint_blocks, saved_activation_bytes

pytestmark = pytest.mark.module("0.8")


def small_gpt(dropout=0.0) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=30, block_size=32, n_layer=3, n_head=2, n_embd=32, dropout=dropout))


def test_grad_scaler_skips_an_overflowing_step_and_halves_the_scale():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    precision = Precision("float16", init_scale=1024.0, growth_interval=2)
    x = torch.randn(8, 4)
    with precision.autocast():
        out = model(x)
    assert out.dtype == torch.float16
    precision.backward(out.float().pow(2).mean())
    assert model.weight.grad is not None
    before = model.weight.detach().clone()
    assert precision.step(opt, model.parameters(), grad_clip=1.0)  # a clean step updates
    assert not torch.equal(model.weight, before) and precision.scale == 1024.0
    opt.zero_grad()

    before = model.weight.detach().clone()
    model.weight.grad = torch.full_like(model.weight, float("inf"))  # an overflowed gradient
    model.bias.grad = torch.zeros_like(model.bias)
    assert not precision.step(opt, model.parameters())
    assert torch.equal(model.weight, before)  # skipped: the weights are untouched
    assert precision.scale == 512.0 and precision.skipped == 1  # and the scale backs off by half
    opt.zero_grad()
    for _ in range(2):  # growth_interval clean steps double it again
        model.weight.grad, model.bias.grad = torch.ones_like(model.weight), torch.ones_like(model.bias)
        assert precision.step(opt, model.parameters())
    assert precision.scale == 1024.0


def test_scaled_fp16_training_tracks_fp32():
    torch.manual_seed(1)
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    finals = {}
    for dtype in ("float32", "float16", "bfloat16"):
        torch.manual_seed(2)
        model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        precision = Precision(dtype)
        for _ in range(30):
            with precision.autocast():
                loss = F.cross_entropy(model(x).float(), y)
            precision.backward(loss)
            precision.step(opt, model.parameters())
            opt.zero_grad()
        finals[dtype] = loss.item()
    assert finals["float16"] == pytest.approx(finals["float32"], abs=0.05)
    assert finals["bfloat16"] == pytest.approx(finals["float32"], abs=0.1)
    with pytest.raises(ValueError, match="dtype must be one of"):
        Precision("float8")


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_checkpointed_blocks_give_equal_gradients_with_less_saved_memory(dropout):
    plain = small_gpt(dropout)
    checkpointed = checkpoint_blocks(copy.deepcopy(plain))
    assert all(isinstance(b, Checkpointed) for b in checkpointed.blocks)
    x = torch.randint(0, 30, (4, 32))

    def loss_of(model):
        def run():
            torch.manual_seed(7)  # the same dropout masks; recomputation replays them
            return F.cross_entropy(model(x).view(-1, 30), x.view(-1))

        return run

    loss_a, bytes_a = saved_activation_bytes(loss_of(plain), plain)
    loss_b, bytes_b = saved_activation_bytes(loss_of(checkpointed), checkpointed)
    loss_a.backward()
    loss_b.backward()
    torch.testing.assert_close(loss_a, loss_b)
    grads = dict(plain.named_parameters())
    for name, p in checkpointed.named_parameters():
        torch.testing.assert_close(p.grad, grads[name.replace("module.", "")].grad, atol=1e-6, rtol=1e-5)
    assert bytes_b < 0.35 * bytes_a, (bytes_a, bytes_b)
    with pytest.raises(ValueError, match="not an nn.ModuleList"):
        checkpoint_blocks(nn.Linear(2, 2))


@pytest.mark.slow  # inductor compiles C++ for forward and backward: ~1 min idle, 5 min on a loaded machine
def test_compiled_model_loss_equals_eager():
    model = small_gpt()
    x = torch.randint(0, 30, (2, 16))
    compiled = torch.compile(model, backend="inductor", dynamic=False)
    eager_loss = F.cross_entropy(model(x).view(-1, 30), x.view(-1))
    compiled_loss = F.cross_entropy(compiled(x).view(-1, 30), x.view(-1))
    torch.testing.assert_close(compiled_loss, eager_loss, atol=1e-5, rtol=1e-5)
    compiled_loss.backward()
    grad = model.embed.wte.weight.grad.clone()
    model.zero_grad()
    eager_loss.backward()
    torch.testing.assert_close(grad, model.embed.wte.weight.grad, atol=1e-5, rtol=1e-4)
