"""GPT against transformers' GPT2LMHeadModel with the same weights, and GPT options against torch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from groundup.generate import generate_tokens
from groundup.models.gpt import GPT, GPTConfig
from groundup.models.layers import NoCache

pytestmark = pytest.mark.module("0.7")

transformers = pytest.importorskip("transformers")


def to_hf_gpt2(model: GPT, activation: str):
    """A GPT2LMHeadModel holding `model`'s weights (HF stores Linear weights transposed, Conv1D)."""
    cfg = model.cfg
    hf_cfg = transformers.GPT2Config(
        vocab_size=cfg.vocab_size,
        n_positions=cfg.block_size,
        n_embd=cfg.n_embd,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        activation_function=activation,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        layer_norm_epsilon=1e-5,
        bos_token_id=0,
        eos_token_id=0,
    )
    hf = transformers.GPT2LMHeadModel(hf_cfg).eval()
    sd = {"transformer.wte.weight": model.embed.wte.weight, "transformer.wpe.weight": model.embed.wpe.weight}
    for i, b in enumerate(model.blocks):
        p = f"transformer.h.{i}."
        sd |= {
            p + "ln_1.weight": b.ln_1.weight,
            p + "ln_1.bias": b.ln_1.bias,
            p + "attn.c_attn.weight": b.attn.qkv.weight.T,
            p + "attn.c_attn.bias": b.attn.qkv.bias,
            p + "attn.c_proj.weight": b.attn.out.weight.T,
            p + "attn.c_proj.bias": b.attn.out.bias,
            p + "ln_2.weight": b.ln_2.weight,
            p + "ln_2.bias": b.ln_2.bias,
            p + "mlp.c_fc.weight": b.mlp.fc.weight.T,
            p + "mlp.c_fc.bias": b.mlp.fc.bias,
            p + "mlp.c_proj.weight": b.mlp.proj.weight.T,
            p + "mlp.c_proj.bias": b.mlp.proj.bias,
        }
    sd |= {"transformer.ln_f.weight": model.ln_f.weight, "transformer.ln_f.bias": model.ln_f.bias}
    sd["lm_head.weight"] = model.lm_head.weight
    hf.load_state_dict({k: v.detach().clone() for k, v in sd.items()}, strict=False)
    return hf


@pytest.mark.parametrize(("activation", "hf_activation"), [("gelu_tanh", "gelu_new"), ("gelu", "gelu")])
def test_gpt_matches_transformers_gpt2(activation, hf_activation):
    torch.manual_seed(0)
    cfg = GPTConfig(
        vocab_size=37, block_size=16, n_layer=2, n_head=4, n_embd=32, bias=True, activation=activation
    )
    model = GPT(cfg).eval()
    for p in model.parameters():  # move LayerNorm gains and biases off their trivial init
        p.data.add_(0.05 * torch.randn_like(p))
    hf = to_hf_gpt2(model, hf_activation)
    idx = torch.randint(0, cfg.vocab_size, (3, 16))
    with torch.no_grad():
        ours, ref = model(idx), hf(idx).logits
    torch.testing.assert_close(ours, ref, atol=2e-5, rtol=1e-5)


def test_gpt_loss_gradients_match_transformers():
    torch.manual_seed(1)
    cfg = GPTConfig(
        vocab_size=29, block_size=8, n_layer=1, n_head=2, n_embd=16, bias=True, activation="gelu_tanh"
    )
    model = GPT(cfg)
    hf = to_hf_gpt2(model, "gelu_new")
    idx = torch.randint(0, cfg.vocab_size, (2, 8))
    ours = nn.functional.cross_entropy(model(idx)[:, :-1].reshape(-1, 29), idx[:, 1:].reshape(-1))
    ref = hf(idx, labels=idx).loss  # HF shifts labels internally
    ours.backward()
    ref.backward()
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(
        model.blocks[0].attn.qkv.weight.grad,
        hf.transformer.h[0].attn.c_attn.weight.grad.T,
        atol=1e-6,
        rtol=1e-5,
    )
    # tied head: the embedding's gradient sums both uses, in both implementations
    torch.testing.assert_close(
        model.embed.wte.weight.grad, hf.transformer.wte.weight.grad, atol=1e-6, rtol=1e-5
    )


@pytest.mark.parametrize("norm", ["pre", "post"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_gpt_block_matches_torch_encoder_layer_with_causal_mask(norm, activation):
    """A GPT block is torch's TransformerEncoderLayer with a causal mask (norm_first = pre-norm)."""
    torch.manual_seed(2)
    cfg = GPTConfig(
        vocab_size=10,
        block_size=12,
        n_layer=1,
        n_head=4,
        n_embd=32,
        bias=True,
        norm=norm,
        activation=activation,
    )
    block = GPT(cfg).blocks[0].eval()
    ref = nn.TransformerEncoderLayer(
        32,
        4,
        dim_feedforward=128,
        dropout=0.0,
        activation=activation,
        batch_first=True,
        norm_first=norm == "pre",
    ).eval()
    with torch.no_grad():
        for p in block.parameters():  # LayerNorm gains and biases off their trivial init
            p.add_(0.05 * torch.randn_like(p))
        ref.self_attn.in_proj_weight.copy_(block.attn.qkv.weight)
        ref.self_attn.in_proj_bias.copy_(block.attn.qkv.bias)
        ref.self_attn.out_proj.weight.copy_(block.attn.out.weight)
        ref.self_attn.out_proj.bias.copy_(block.attn.out.bias)
        for mine, theirs in (
            (block.mlp.fc, ref.linear1),
            (block.mlp.proj, ref.linear2),
            (block.ln_1, ref.norm1),
            (block.ln_2, ref.norm2),
        ):
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)
    x = torch.randn(2, 12, 32)
    mask = nn.Transformer.generate_square_subsequent_mask(12)
    with torch.no_grad():
        torch.testing.assert_close(
            block(x, NoCache(causal=True)), ref(x, src_mask=mask, is_causal=True), atol=1e-5, rtol=1e-5
        )


@pytest.mark.parametrize("pos", ["learned", "sinusoidal", "rope"])
def test_gpt_is_causal_for_every_position_encoding(pos):
    """Changing a future token never changes the logits of earlier positions."""
    torch.manual_seed(3)
    model = GPT(GPTConfig(vocab_size=20, block_size=10, n_layer=2, n_head=2, n_embd=16, pos=pos)).eval()
    idx = torch.randint(0, 20, (1, 10))
    changed = idx.clone()
    changed[0, 6] = (idx[0, 6] + 1) % 20
    with torch.no_grad():
        a, b = model(idx), model(changed)
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_weight_tying_shares_one_parameter_and_untied_does_not():
    tied = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=16))
    untied = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=16, tie_weights=False))
    assert tied.lm_head.weight is tied.embed.wte.weight
    assert untied.num_params() - tied.num_params() == 20 * 16


def test_bad_config_names_the_field():
    with pytest.raises(ValueError, match="pos must be one of"):
        GPTConfig(pos="alibi")
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(n_embd=30, n_head=4)


def test_greedy_generate_matches_transformers_generate():
    from groundup.generate import SamplingParams

    torch.manual_seed(4)
    cfg = GPTConfig(
        vocab_size=31, block_size=24, n_layer=2, n_head=2, n_embd=16, bias=True, activation="gelu_tanh"
    )
    model = GPT(cfg).eval()
    for p in model.parameters():  # a random model whose argmax varies from step to step
        p.data.add_(0.3 * torch.randn_like(p))
    hf = to_hf_gpt2(model, "gelu_new")
    prompt = torch.randint(0, 31, (2, 5))
    ours = generate_tokens(model, prompt, 12, cfg.block_size, SamplingParams(temperature=0.0))
    hf.generation_config.eos_token_id = None  # generate all 12 tokens, as ours does
    hf.generation_config.pad_token_id = 0
    ref = hf.generate(prompt, max_new_tokens=12, do_sample=False, attention_mask=torch.ones_like(prompt))
    assert torch.equal(ours, ref)
    seeded = [
        generate_tokens(
            model, prompt, 8, cfg.block_size, SamplingParams(top_k=5), torch.Generator().manual_seed(7)
        )
        for _ in range(2)
    ]
    assert torch.equal(*seeded)
