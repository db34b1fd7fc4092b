"""Warmup + cosine schedule against torch's CosineAnnealingLR; AdamW parameter groups (0.8)."""

from __future__ import annotations

import pytest
import torch

from groundup.models.gpt import GPT, GPTConfig
from groundup.models.makemore import SequenceConfig
from groundup.models.rnn import Recurrent
from groundup.train.optim import make_adamw, param_groups
from groundup.train.schedules import WarmupCosine

pytestmark = pytest.mark.module("0.8")


def test_cosine_part_matches_torch_cosine_annealing():
    warmup, decay, lr_max, lr_min = 10, 60, 1e-3, 1e-4
    sched = WarmupCosine(lr_max, lr_min, warmup, decay)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr_max)
    ref = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=decay - warmup, eta_min=lr_min)
    for step in range(warmup, decay + 1):
        assert sched.lr_at(step) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9, abs=1e-12)
        opt.step()
        ref.step()
    assert [sched.lr_at(s) for s in range(3)] == pytest.approx(
        [lr_max * (s + 1) / (warmup + 1) for s in range(3)]
    )
    assert sched.lr_at(decay + 5) == lr_min


def test_apply_sets_every_group_and_state_round_trips():
    model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8))
    opt = make_adamw(model, lr=1.0, weight_decay=0.1, betas=(0.9, 0.99))
    sched = WarmupCosine(1e-3, 1e-4, 5, 20)
    for _ in range(7):
        lr = sched.apply(opt)
    assert all(g["lr"] == lr == sched.lr_at(6) for g in opt.param_groups)
    other = WarmupCosine(1e-3, 1e-4, 5, 20)
    other.load_state_dict(sched.state_dict())
    assert other.step == 7


def test_no_decay_on_norms_biases_and_embeddings():
    model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=2, n_head=2, n_embd=8, bias=True))
    decay, no_decay = param_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = sorted(names[id(p)] for p in decay["params"])
    assert decayed == sorted(
        n for n in names.values() if n.endswith(("qkv.weight", "out.weight", "proj.weight", "fc.weight"))
    )
    assert "embed.wte.weight" in {names[id(p)] for p in no_decay["params"]}  # the tied head is the embedding
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
    rnn = Recurrent(SequenceConfig(vocab_size=10, n_embd=4, n_hidden=6), "lstm")
    decay, _ = param_groups(rnn, 0.1)
    assert {names for names, p in rnn.named_parameters() if any(p is q for q in decay["params"])} == {
        "layers.0.weight_ih",
        "layers.0.weight_hh",
        "head.weight",
    }


def test_grouped_adamw_equals_torch_adamw_with_explicit_groups():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8))
    ref_model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8))
    ref_model.load_state_dict(model.state_dict())
    ours = make_adamw(model, lr=1e-2, weight_decay=0.5, betas=(0.9, 0.99))
    decay_names = {
        "blocks.0.attn.qkv.weight",
        "blocks.0.attn.out.weight",
        "blocks.0.mlp.fc.weight",
        "blocks.0.mlp.proj.weight",
    }
    named = dict(ref_model.named_parameters())
    ref = torch.optim.AdamW(
        [
            {"params": [named[n] for n in sorted(decay_names)], "weight_decay": 0.5},
            {"params": [p for n, p in named.items() if n not in decay_names], "weight_decay": 0.0},
        ],
        lr=1e-2,
        betas=(0.9, 0.99),
        # The same kernel as ours (fused on CPU), so this checks the grouping to rounding. A different
        # kernel would agree to ~4e-8 everywhere except the key bias: its gradient is mathematically
        # zero (softmax ignores a shift shared by all keys), so Adam divides ~1e-12 rounding noise by
        # its own square root and the two kernels' noise differs by ~2e-6 after three steps.
        fused=ours.defaults["fused"],
        foreach=ours.defaults["foreach"],
    )
    idx = torch.randint(0, 10, (2, 8))
    for m, opt in ((model, ours), (ref_model, ref)):
        for _ in range(3):
            loss = m(idx).logsumexp(-1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    for (name, p), q in zip(model.named_parameters(), ref_model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-6, msg=name)
