"""Sparse MoE: transformers' Mixtral block and load-balancing loss with copied weights, the dense
definition, capacity and token dropping, the auxiliary-loss gradient, and MoE-GPT."""

from __future__ import annotations

import math

import pytest
import torch

from groundup.models.gpt import GPT, GPTConfig
from groundup.models.layers import CausalLM
from groundup.models.moe import (
    MoEConfig,
    MoEGPT,
    SparseMoE,
    capacity,
    dense_moe,
    dispatch,
    load_balancing_loss,
    router_z_loss,
)

pytestmark = pytest.mark.module("3.4")


def mixtral_block(moe: SparseMoE):
    """transformers' MixtralSparseMoeBlock holding `moe`'s router and SwiGLU experts."""
    transformers = pytest.importorskip("transformers")
    from transformers.models.mixtral.modeling_mixtral import MixtralSparseMoeBlock

    cfg = moe.cfg
    hf_cfg = transformers.MixtralConfig(
        hidden_size=cfg.dim,
        intermediate_size=cfg.hidden_dim,
        num_local_experts=cfg.n_experts,
        num_experts_per_tok=cfg.top_k,
        router_jitter_noise=0.0,
    )
    block = MixtralSparseMoeBlock(hf_cfg).eval()
    with torch.no_grad():
        block.gate.weight.copy_(moe.router.gate.weight)
        block.experts.gate_up_proj.copy_(torch.stack([e.gate_up.weight for e in moe.experts]))  # (E, 2I, C)
        block.experts.down_proj.copy_(torch.stack([e.down.weight for e in moe.experts]))  # (E, C, I)
    return block


@pytest.mark.parametrize(("n_experts", "top_k"), [(4, 2), (8, 2), (4, 1), (4, 4)])
def test_output_equals_transformers_mixtral_block(n_experts, top_k):
    torch.manual_seed(0)
    moe = SparseMoE(MoEConfig(16, 24, n_experts, top_k)).eval()
    x = torch.randn(3, 7, 16)
    with torch.no_grad():
        torch.testing.assert_close(moe(x), mixtral_block(moe)(x), atol=1e-6, rtol=1e-5)


def test_load_balancing_loss_equals_transformers():
    pytest.importorskip("transformers")
    from transformers.models.mixtral.modeling_mixtral import load_balancing_loss_func

    torch.manual_seed(1)
    moe = SparseMoE(MoEConfig(16, 24, 6, 2)).eval()
    with torch.no_grad():
        moe(torch.randn(4, 9, 16))
    routing = moe.last["routing"]
    ref = load_balancing_loss_func((routing.logits,), 6, 2)
    torch.testing.assert_close(moe.last["balance_loss"], ref, atol=1e-6, rtol=1e-6)
    # uniform routing gives k (each expert gets k/E of the tokens and 1/E of the probability)
    uniform = torch.full((12, 6), 1 / 6)
    experts = torch.arange(24).reshape(12, 2) % 6  # every expert chosen 4 times
    assert load_balancing_loss(uniform, experts, 6).item() == pytest.approx(2.0)


def test_router_z_loss_is_the_mean_squared_logsumexp():
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])
    expected = (math.log(2.0) ** 2 + math.log(4.0) ** 2) / 2
    assert router_z_loss(logits).item() == pytest.approx(expected)


@pytest.mark.parametrize("expert", ["swiglu", "mlp"])
def test_sorted_dispatch_equals_the_dense_definition(expert):
    torch.manual_seed(2)
    moe = SparseMoE(MoEConfig(16, 24, 5, 2, expert=expert)).double().eval()
    x = torch.randn(3, 11, 16, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(moe(x), dense_moe(moe, x), atol=1e-12, rtol=0)


def greedy_capacity(experts: torch.Tensor, n_experts: int, cap: int) -> set[tuple[int, int]]:
    """The (token, choice) pairs GShard keeps: first choices of every token in order, then second
    choices, each accepted while its expert has room."""
    load, kept = [0] * n_experts, set()
    for choice in range(experts.shape[1]):
        for token in range(experts.shape[0]):
            e = int(experts[token, choice])
            if load[e] < cap:
                load[e] += 1
                kept.add((token, choice))
    return kept


@pytest.mark.parametrize("factor", [0.25, 0.5, 1.0, 1.5])
def test_capacity_keeps_what_the_greedy_priority_keeps(factor):
    torch.manual_seed(3)
    cfg = MoEConfig(16, 24, 4, 2, capacity_factor=factor)
    experts = torch.stack([torch.randperm(4)[:2] for _ in range(30)])  # (30, 2), skewed by chance
    cap = capacity(30, cfg)
    assert cap == math.ceil(factor * 30 * 2 / 4)
    tokens, slots, counts = dispatch(experts, 4, cap)
    assert set(zip(tokens.tolist(), slots.tolist())) == greedy_capacity(experts, 4, cap)
    assert counts.max() <= cap and counts.sum() == len(tokens)


def test_dropped_assignments_contribute_nothing():
    torch.manual_seed(4)
    moe = SparseMoE(MoEConfig(16, 24, 4, 2, capacity_factor=0.5)).double().eval()
    x = torch.randn(40, 16, dtype=torch.float64)
    with torch.no_grad():
        y = moe(x)
        routing = moe.router(x)
        tokens, slots, _ = dispatch(routing.experts, 4, capacity(40, moe.cfg))
        expected = torch.zeros_like(x)
        for t, s in zip(tokens.tolist(), slots.tolist()):
            expected[t] += routing.weights[t, s] * moe.experts[int(routing.experts[t, s])](x[t])
    torch.testing.assert_close(y, expected, atol=1e-12, rtol=0)
    assert moe.last["kept_fraction"] < 1.0


def test_auxiliary_losses_reach_the_gradients_as_if_added_to_the_loss():
    torch.manual_seed(5)
    cfg = MoEConfig(16, 24, 4, 2, aux_loss_coef=0.3, z_loss_coef=0.2)
    moe = SparseMoE(cfg).double()
    x, w = torch.randn(20, 16, dtype=torch.float64), torch.randn(20, 16, dtype=torch.float64)
    moe.train()
    (moe(x) * w).sum().backward()
    attached = [p.grad.clone() for p in moe.parameters()]
    moe.zero_grad()
    moe.eval()  # no attachment: add the losses by hand
    y = moe(x)
    ((y * w).sum() + 0.3 * moe.last["balance_loss"] + 0.2 * moe.last["z_loss"]).backward()
    for a, b in zip(attached, [p.grad for p in moe.parameters()]):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    assert moe.router.gate.weight.grad.abs().sum() > 0


def test_noisy_gating_explores_only_while_training():
    torch.manual_seed(6)
    moe = SparseMoE(MoEConfig(16, 24, 8, 2, noise=True))
    torch.nn.init.constant_(moe.router.noise.weight, 0.5)
    x = torch.randn(64, 16)
    moe.eval()
    eval_choice = moe.router(x).experts
    assert torch.equal(moe.router(x).experts, eval_choice)
    moe.train()
    assert not torch.equal(moe.router(x).experts, eval_choice)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"top_k": 5}, "top_k"), ({"top_k": 0}, "top_k"), ({"capacity_factor": 0.0}, "capacity_factor")],
)
def test_configurations_that_cannot_work_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        MoEConfig(16, 24, **{"n_experts": 4, **kwargs})


def test_moe_gpt_has_gpt_active_parameters_and_decodes_like_its_full_forward():
    torch.manual_seed(7)
    cfg = GPTConfig(vocab_size=40, block_size=32, n_layer=2, n_head=4, n_embd=32, bias=False)
    model = MoEGPT(cfg, n_experts=4, top_k=2).eval()
    gpt_params = GPT(cfg).num_params()
    router_params = 2 * 4 * 32
    assert model.active_params() == gpt_params + router_params
    assert model.num_params() > 1.5 * gpt_params
    assert isinstance(model, CausalLM)
    ids = torch.randint(0, 40, (2, 20))
    with torch.no_grad():
        full = model(ids)
        cache = model.new_cache(2, 20)
        steps = [model(ids[:, :8], kv_cache=cache)] + [
            model(ids[:, t : t + 1], kv_cache=cache) for t in range(8, 20)
        ]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
