"""LoRA against PEFT on the same weights; merge/unmerge; parameter counts; adapter-only save/load."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from groundup.compress import (
    LoRALinear,
    apply_lora,
    count_parameters,
    load_adapters,
    lora_state_dict,
    merge_lora,
    save_adapters,
    unmerge_lora,
)

pytestmark = pytest.mark.module("1.3")


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.q_proj, self.v_proj, self.out = nn.Linear(16, 16), nn.Linear(16, 16), nn.Linear(16, 4)

    def forward(self, x):
        return self.out(torch.relu(self.q_proj(x) + self.v_proj(x)))


def test_equals_peft_lora_on_the_same_weights():
    peft = pytest.importorskip("peft")
    torch.manual_seed(0)
    base = Block()
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0)
    theirs = peft.get_peft_model(copy.deepcopy(base), config)
    ours = apply_lora(copy.deepcopy(base), ["q_proj", "v_proj"], r=4, alpha=8)
    with torch.no_grad():
        for name in ("q_proj", "v_proj"):
            layer = theirs.base_model.model.get_submodule(name)
            layer.lora_B[
                "default"
            ].weight.normal_()  # PEFT starts B at zero too; make the adapter non-trivial
            getattr(ours, name).lora_A.copy_(layer.lora_A["default"].weight)
            getattr(ours, name).lora_B.copy_(layer.lora_B["default"].weight)
    x = torch.randn(8, 16)
    assert torch.equal(ours(x), theirs(x))
    assert count_parameters(ours) == tuple(theirs.get_nb_trainable_parameters())
    merged_theirs = theirs.merge_and_unload()
    merge_lora(ours)
    torch.testing.assert_close(ours(x), merged_theirs(x), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(ours.q_proj.base.weight, merged_theirs.q_proj.weight, rtol=0, atol=1e-7)


def test_initial_adapter_is_a_no_op_and_base_is_frozen():
    base = nn.Linear(32, 8)
    layer = LoRALinear(base, r=4, alpha=8)
    x = torch.randn(3, 32)
    assert torch.equal(layer(x), base(x))
    assert not base.weight.requires_grad and layer.lora_A.requires_grad and layer.lora_B.requires_grad


def test_merge_then_unmerge_restores_weights_exactly_and_merged_output_matches():
    torch.manual_seed(1)
    layer = LoRALinear(nn.Linear(64, 32), r=8, alpha=16)
    with torch.no_grad():
        layer.lora_B.normal_()
    original = layer.base.weight.clone()
    x = torch.randn(5, 64, dtype=torch.float32)
    adapted = layer(x)
    layer.merge()
    torch.testing.assert_close(layer(x), adapted, rtol=1e-5, atol=1e-5)
    assert not torch.equal(layer.base.weight, original)
    layer.unmerge()
    assert torch.equal(layer.base.weight, original)
    assert torch.equal(layer(x), adapted)


def test_merge_is_exact_in_float64():
    torch.manual_seed(2)
    layer = LoRALinear(nn.Linear(16, 8).double(), r=2, alpha=4)
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(4, 16, dtype=torch.float64)
    adapted = layer(x)
    layer.merge()
    torch.testing.assert_close(layer(x), adapted, rtol=1e-12, atol=1e-12)


def test_parameter_counts_curriculum_exercise():
    """Curriculum 1.3 exercise 3: d_in=2048, d_out=8192, r=16 -> r·(d_in+d_out) trainable, < 1% of W."""
    layer = LoRALinear(nn.Linear(2048, 8192, bias=False), r=16, alpha=32)
    trainable, total = count_parameters(layer)
    assert trainable == 16 * (2048 + 8192) == 163_840
    assert total == 2048 * 8192 + trainable
    assert trainable / (2048 * 8192) == pytest.approx(0.009765625)


def test_adapters_save_and_load_alone(tmp_path):
    torch.manual_seed(3)
    model = apply_lora(Block(), ["q_proj"], r=2, alpha=2)
    with torch.no_grad():
        model.q_proj.lora_B.normal_()
    path = save_adapters(model, tmp_path / "adapter.safetensors")
    assert set(lora_state_dict(model)) == {"q_proj.lora_A", "q_proj.lora_B"}
    fresh = copy.deepcopy(model)
    with torch.no_grad():
        fresh.q_proj.lora_A.zero_()
        fresh.q_proj.lora_B.zero_()
    load_adapters(fresh, path)
    x = torch.randn(2, 16)
    assert torch.equal(fresh(x), model(x))
    assert path.stat().st_size < 2 * 4 * (2 * 16 + 16 * 2) + 1024  # adapters only, no base weights


def test_bad_arguments():
    with pytest.raises(ValueError, match="r must be"):
        LoRALinear(nn.Linear(4, 4), r=0)
    with pytest.raises(ValueError, match="matched no nn.Linear"):
        apply_lora(Block(), ["k_proj"])
    merge_lora(unmerge_lora(apply_lora(Block(), ["out"])))  # idempotent helpers on a fresh model
