"""The LLM quantizers on a tiny random groundup Llama: function preservation of the scale folding,
GPTQ beating RTN, W8A8 against torch's fake-quant ops, QLoRA training only its adapters."""

import copy

import pytest
import torch

from groundup.quant.llm.awq import awq_quantize_model, mlp_output, search_clip, search_scale
from groundup.quant.llm.gptq import gptq_quantize_model
from groundup.quant.llm.nf4 import NF4Linear, nf4_quantize_model
from groundup.quant.llm.qlora import add_qlora, train_adapters
from groundup.quant.llm.qweight import WeightOnlyLinear
from groundup.quant.llm.rtn import rtn_quantize, rtn_quantize_model
from groundup.quant.llm.smoothquant import W8A8Linear, smoothquant_model

from .conftest import make_tiny_llama

pytestmark = pytest.mark.module("1.2")


def logits_mse(model, reference, ids):
    with torch.no_grad():
        return float(((model(ids) - reference(ids)) ** 2).mean())


def test_gptq_model_beats_rtn_on_the_same_calibration(tiny_llama, windows):
    evaluation = torch.randint(0, 96, (4, 32), generator=torch.Generator().manual_seed(9))
    for bits, gs in ((3, 32), (4, None)):
        gptq = gptq_quantize_model(copy.deepcopy(tiny_llama), windows, bits, gs)
        rtn = rtn_quantize_model(copy.deepcopy(tiny_llama), bits, gs)
        assert all(
            isinstance(m, WeightOnlyLinear) for b in gptq.blocks for m in (b.attn.qkv, b.attn.out, b.mlp.down)
        )
        err_gptq, err_rtn = logits_mse(gptq, tiny_llama, windows), logits_mse(rtn, tiny_llama, windows)
        assert err_gptq < err_rtn, (bits, gs, err_gptq, err_rtn)
        assert logits_mse(gptq, tiny_llama, evaluation) < logits_mse(rtn, tiny_llama, evaluation)


@pytest.mark.parametrize("n_kv_heads", [2, 4])  # 4 = no GQA: the v -> o scale is folded too
def test_awq_scaling_is_function_preserving(windows, n_kv_heads):
    model = make_tiny_llama(n_kv_heads=n_kv_heads)
    scaled = awq_quantize_model(copy.deepcopy(model), windows, 4, 32, quantize=False)
    changed = scaled.blocks[0].attn_norm.weight - model.blocks[0].attn_norm.weight
    assert changed.abs().max() > 1e-3  # the scales really moved something
    with torch.no_grad():
        torch.testing.assert_close(scaled(windows), model(windows), atol=1e-5, rtol=1e-5)


def test_awq_beats_rtn_at_w3(tiny_llama, windows):
    awq = awq_quantize_model(copy.deepcopy(tiny_llama), windows, 3, 32)
    rtn = rtn_quantize_model(copy.deepcopy(tiny_llama), 3, 32)
    assert logits_mse(awq, tiny_llama, windows) < logits_mse(rtn, tiny_llama, windows)


def test_awq_mlp_loss_is_the_swiglu_output(tiny_llama):
    """The gate/up scale search scores the whole MLP output down(silu(gate)·up), fused or not."""
    mlp = tiny_llama.blocks[0].mlp
    x = torch.randn(40, mlp.gate_up.in_features, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = mlp(x)
        gate_w, up_w = mlp.gate_up.weight.chunk(2, dim=0)
        fused = mlp_output(mlp.down.weight, fused=True)([x @ mlp.gate_up.weight.T])
        split = mlp_output(mlp.down.weight, fused=False)([x @ gate_w.T, x @ up_w.T])
    torch.testing.assert_close(fused, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(split, expected, atol=1e-5, rtol=1e-5)
    combine = mlp_output(mlp.down.weight, fused=True)
    s, alpha = search_scale(x, [mlp.gate_up.weight], 3, 32, combine=combine)

    def err(scale):
        w_q = rtn_quantize(mlp.gate_up.weight * scale, 3, 32).dequantize() / scale
        return float(((combine([x @ w_q.T]) - expected) ** 2).sum())

    assert err(s) <= err(torch.ones_like(s)) + 1e-6  # α = 0 (plain RTN) is on the grid


def test_awq_clip_search_handles_a_short_last_group():
    torch.manual_seed(0)
    w, x = torch.randn(16, 96), torch.randn(200, 96)
    ratio = search_clip(x, w, 4, 64)  # 96 = 64 + 32
    assert ratio.shape == (16, 2) and bool(((ratio >= 0.5) & (ratio <= 1)).all())
    clipped = rtn_quantize(w, 4, 64, clip=ratio).dequantize()
    plain = rtn_quantize(w, 4, 64).dequantize()
    assert ((x @ (clipped - w).T) ** 2).mean() <= ((x @ (plain - w).T) ** 2).mean()


def test_smoothquant_folding_is_function_preserving(tiny_llama, windows):
    for alpha in (0.5, 0.85):
        smoothed = smoothquant_model(copy.deepcopy(tiny_llama), windows, alpha, quantize=False)
        assert not torch.allclose(smoothed.blocks[0].mlp_norm.weight, tiny_llama.blocks[0].mlp_norm.weight)
        with torch.no_grad():
            torch.testing.assert_close(smoothed(windows), tiny_llama(windows), atol=1e-5, rtol=1e-5)


def test_w8a8_linear_matches_torch_fake_quant():
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 48)
    x = torch.randn(5, 7, 64) * torch.linspace(0.1, 5, 64)
    w = linear.weight.detach()
    w_scale = w.abs().amax(dim=1) / 127
    w_ref = torch.fake_quantize_per_channel_affine(
        w, w_scale, torch.zeros(48, dtype=torch.int32), 0, -127, 127
    )
    x2 = x.reshape(-1, 64)
    x_scale = x2.abs().amax(dim=1) / 127
    x_ref = torch.fake_quantize_per_channel_affine(
        x2, x_scale, torch.zeros(35, dtype=torch.int32), 0, -127, 127
    )
    expected = (x_ref @ w_ref.T + linear.bias).reshape(5, 7, 48)
    torch.testing.assert_close(W8A8Linear.from_linear(linear)(x), expected.detach(), atol=1e-4, rtol=1e-5)


def test_smoothquant_w8a8_model_stays_close(tiny_llama, windows):
    sq = smoothquant_model(copy.deepcopy(tiny_llama), windows, 0.5)
    assert isinstance(sq.blocks[1].mlp.down, W8A8Linear)
    with torch.no_grad():
        ref = tiny_llama(windows)
        rel = float(((sq(windows) - ref) ** 2).mean() / (ref**2).mean())
    assert rel < 1e-3


def test_nf4_model_replaces_every_block_linear(tiny_llama, windows):
    nf4 = nf4_quantize_model(copy.deepcopy(tiny_llama))
    assert isinstance(nf4.blocks[0].attn.qkv, NF4Linear) and isinstance(nf4.blocks[1].mlp.gate_up, NF4Linear)
    with torch.no_grad():
        power = float((tiny_llama(windows) ** 2).mean())
    assert logits_mse(nf4, tiny_llama, windows) < 0.05 * power


def test_qlora_updates_only_adapters(tiny_llama, windows):
    model = copy.deepcopy(tiny_llama)
    trainable = add_qlora(model, r=4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        torch.testing.assert_close(model(windows), nf4_quantize_model(copy.deepcopy(tiny_llama))(windows))
    mask = torch.ones_like(windows, dtype=torch.bool)
    losses = train_adapters(model, trainable, [(windows, mask)] * 8, lr=1e-2)
    assert losses[-1] < losses[0]
    after = model.state_dict()
    for name, value in after.items():
        assert (not torch.equal(value, before[name])) == ("lora_" in name), name
    assert all(p.grad is not None for p in trainable)
    assert all(not p.requires_grad for n, p in model.named_parameters() if "lora_" not in n)
