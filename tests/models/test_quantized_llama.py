"""Quantized weights in the model (`groundup.models.quantized`, `Llama.from_gguf(weights=...)`): the
ggml blocks are taken apart without changing a bit, and a model that keeps them quantized decodes the
same greedy tokens as the float32 model built from the same dequantized weights.

Why greedy tokens can be compared exactly only for a first stretch: the fused kernel rebuilds every
weight exactly, but sums the K products of a dot product in another order than the float32 GEMM,
so logits differ by float32 rounding (~1e-6 relative, 1e-4 absolute here). A greedy token changes
only where the top two logits are that close; the tiny models below scale their head (peaky logits)
so that 16 tokens are compared, and the real SmolLM2 check compares its first 32 (`slow`)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from groundup.formats.ggml_quants import dequantize as ggml_dequantize
from groundup.formats.ggml_quants import quantize as ggml_quantize
from groundup.formats.ggml_types import GGMLType
from groundup.formats.gguf_writer import GGUFWriter
from groundup.generate import SamplingParams
from groundup.models.llama import Llama, LlamaConfig
from groundup.models.quantized import GroupWeight, QuantizedEmbedding, QuantizedLinear, quantize_linears
from groundup.models.static_decode import enable_static_decode
from groundup.serve.engine import Engine, EngineConfig

pytestmark = pytest.mark.module("1.5")

CFG = LlamaConfig(vocab_size=64, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=96, max_context=64)
# the type each GGUF tensor is stored in: every kernel type, a float type and one with no kernel (Q5_0)
TYPES = {
    "token_embd": GGMLType.Q8_0,
    "attn_q": GGMLType.Q4_0,
    "attn_k": GGMLType.Q4_0,
    "attn_v": GGMLType.Q4_0,
    "attn_output": GGMLType.Q4_1,
    "ffn_gate": GGMLType.Q4_1,
    "ffn_up": GGMLType.Q4_1,
    "ffn_down": GGMLType.Q8_0,
}
PROMPT = [[3, 17, 42, 5, 9]]


@pytest.mark.parametrize("ggml_type", [GGMLType.Q4_0, GGMLType.Q4_1, GGMLType.Q8_0])
def test_from_ggml_dequantizes_bit_for_bit_like_formats(ggml_type):
    w = np.random.default_rng(0).standard_normal((24, 128)).astype(np.float32) * 0.1
    raw = ggml_quantize(w, ggml_type)
    weight = GroupWeight.from_ggml(ggml_type, raw)
    assert weight.bits == (8 if ggml_type is GGMLType.Q8_0 else 4)
    np.testing.assert_array_equal(weight.dequantize().numpy(), ggml_dequantize(raw, ggml_type))
    np.testing.assert_array_equal(weight.to_int8().dequantize().numpy(), ggml_dequantize(raw, ggml_type))


def test_from_ggml_refuses_a_type_without_a_kernel():
    raw = ggml_quantize(np.zeros((2, 32), np.float32), GGMLType.Q5_0)
    with pytest.raises(ValueError, match="Q5_0 has no group kernel"):
        GroupWeight.from_ggml(GGMLType.Q5_0, raw)


def write_quantized_llama(path, weak_layer_type=GGMLType.Q5_0) -> str:
    """A random 2-layer Llama whose tensors are stored as TYPES say (layer 1's ffn_down in
    `weak_layer_type`), tied embeddings, head scaled for well-separated greedy logits."""
    torch.manual_seed(0)
    model = Llama(CFG)
    with torch.no_grad():
        model.embed.weight.mul_(8.0)
    meta = {
        "general.architecture": "llama",
        "llama.block_count": CFG.n_layers,
        "llama.embedding_length": CFG.dim,
        "llama.feed_forward_length": CFG.hidden_dim,
        "llama.attention.head_count": CFG.n_heads,
        "llama.attention.head_count_kv": CFG.n_kv_heads,
        "llama.context_length": CFG.max_context,
        "llama.vocab_size": CFG.vocab_size,
        "tokenizer.ggml.model": "gpt2",  # one token per printable byte '!'..'`': enough for "ABC"
        "tokenizer.ggml.tokens": [chr(33 + i) for i in range(CFG.vocab_size)],
        "tokenizer.ggml.eos_token_id": CFG.vocab_size - 1,
    }
    writer = GGUFWriter(path)
    for key, value in meta.items():
        writer.add_field(key, value)

    def add(name, tensor, ggml_type=GGMLType.F32):
        a = tensor.detach().float().numpy()
        writer.add_tensor(name, ggml_quantize(a, ggml_type), ggml_type, a.shape)

    add("token_embd.weight", model.embed.weight, TYPES["token_embd"])
    add("output_norm.weight", model.norm.weight)
    q, kv = CFG.n_heads * CFG.head_dim, CFG.n_kv_heads * CFG.head_dim
    for i, b in enumerate(model.blocks):
        w, gu = b.attn.qkv.weight, b.mlp.gate_up.weight
        parts = {
            "attn_q": w[:q],
            "attn_k": w[q : q + kv],
            "attn_v": w[q + kv :],
            "attn_output": b.attn.out.weight,
            "ffn_gate": gu[: CFG.hidden_dim],
            "ffn_up": gu[CFG.hidden_dim :],
            "ffn_down": b.mlp.down.weight,
        }
        for part, rows in parts.items():
            kind = weak_layer_type if (i, part) == (1, "ffn_down") else TYPES[part]
            add(f"blk.{i}.{part}.weight", rows, kind)
        add(f"blk.{i}.attn_norm.weight", b.attn_norm.weight, GGMLType.F16)
        add(f"blk.{i}.ffn_norm.weight", b.mlp_norm.weight)
    return str(writer.write())


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    return write_quantized_llama(tmp_path_factory.mktemp("q") / "tiny-q.gguf")


@pytest.fixture(scope="module")
def float_model(tiny_gguf):
    return Llama.from_gguf(tiny_gguf, weights="float32")


def quantized_layers(model):
    return {name: m for name, m in model.named_modules() if isinstance(m, QuantizedLinear)}


@torch.inference_mode()
def greedy(model, prompt=PROMPT, tokens=16):
    """Greedy decoding through a contiguous KV cache: prefill, then single-token steps."""
    cache = model.new_cache(1, len(prompt[0]) + tokens + 1)
    logits = model(torch.tensor(prompt), kv_cache=cache)[:, -1]
    out = [int(logits.argmax())]
    for _ in range(tokens - 1):
        out.append(int(model(torch.tensor([[out[-1]]]), kv_cache=cache)[0, -1].argmax()))
    return out


def float_twin(model: Llama) -> Llama:
    """A float32 Llama with the dequantized weights of `model` (the reference for its kernels)."""
    twin = Llama(model.cfg).eval()
    state = {k: v for k, v in model.state_dict().items() if not k.endswith(("codes", "_bits"))}
    for name, m in model.named_modules():
        if isinstance(m, QuantizedLinear | QuantizedEmbedding):
            state[f"{name}.weight"] = _weight_of(m).dequantize()
    twin.load_state_dict(state, strict=False)
    return twin


def _weight_of(m):
    return m.weight if isinstance(m, QuantizedLinear) else GroupWeight(m.bits, m.codes, *_scales(m))


def _scales(m):
    return m.scale_bits.view(torch.float16), None if m.min_bits is None else m.min_bits.view(torch.float16)


def test_auto_keeps_each_tensor_in_its_form_bit_exactly(tiny_gguf, float_model, caplog):
    with caplog.at_level(logging.WARNING):
        model = Llama.from_gguf(tiny_gguf, weights="auto")
    layers = quantized_layers(model)
    assert layers["blocks.0.attn.qkv"].bits == 4 and layers["blocks.0.mlp.gate_up"].bits == 4
    assert layers["blocks.0.mlp.down"].bits == 8
    assert "blocks.1.mlp.down" not in layers  # Q5_0: no kernel, dequantized to float32 ...
    assert [r.message.count("Q5_0 has no group kernel") for r in caplog.records] == [1]  # ... logged once
    assert isinstance(model.embed, QuantizedEmbedding) and model.embed.bits == 8
    assert model.lm_head.codes.data_ptr() == model.embed.codes.data_ptr()  # the tie shares storage
    float_state = float_model.state_dict()
    for name, layer in layers.items():
        assert torch.equal(layer.dequantize(), float_state[f"{name}.weight"]), name
    assert torch.equal(model.embed(torch.arange(CFG.vocab_size)), float_state["embed.weight"])


@pytest.mark.parametrize("weights", ["auto", "int8"])
def test_quantized_forms_decode_like_the_float_model_of_their_weights(tiny_gguf, float_model, weights):
    """auto: that float model is the file's own float32 model; int8: the same but for the Q5_0 tensor,
    quantized at load (Q4 blocks widen to int8 exactly)."""
    model = Llama.from_gguf(tiny_gguf, weights=weights)
    reference = float_model if weights == "auto" else float_twin(model)
    float_state = float_model.state_dict()
    for name, layer in quantized_layers(model).items():
        if name != "blocks.1.mlp.down":
            assert torch.equal(layer.dequantize(), float_state[f"{name}.weight"]), name
    with torch.inference_mode():
        ids = torch.tensor(PROMPT)
        torch.testing.assert_close(model(ids[:, :1]), reference(ids[:, :1]), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(model(ids), reference(ids), rtol=1e-4, atol=1e-4)
    assert greedy(model) == greedy(reference)


def test_int4_quantizes_what_does_not_fit_with_a_note(tiny_gguf, caplog):
    with caplog.at_level(logging.WARNING):
        model = Llama.from_gguf(tiny_gguf, weights="int4")
    assert {m.bits for m in quantized_layers(model).values()} == {4} and model.embed.bits == 4
    notes = " ".join(r.message for r in caplog.records)
    assert "Q8_0 -> int4: quantized at load, round-to-nearest in groups of 32" in notes
    assert "Q5_0 -> int4" in notes
    twin = float_twin(model)
    with torch.inference_mode():
        torch.testing.assert_close(
            model(torch.tensor(PROMPT)), twin(torch.tensor(PROMPT)), rtol=1e-4, atol=1e-4
        )
    assert greedy(model) == greedy(twin)


def test_weights_argument_is_checked(tiny_gguf):
    with pytest.raises(ValueError, match="weights must be one of"):
        Llama.from_gguf(tiny_gguf, weights="int3")


def test_static_decode_step_equals_the_cache_path(tiny_gguf):
    model = Llama.from_gguf(tiny_gguf, weights="auto")
    expected = greedy(model)
    step = enable_static_decode(model, compile=False)
    try:
        assert greedy(model) == expected and step.compile_seconds is None
    finally:
        model.decode_step = None


# ---- the serving engine's paged path with quantized weights -------------------------------------


def tiny_rtn_llama(bits: int) -> Llama:
    """The serving tests' tiny Llama shape with every projection quantized round-to-nearest."""
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=96,
        dim=32,
        n_layers=2,
        n_heads=4,
        n_kv_heads=2,
        hidden_dim=64,
        max_context=256,
        tie_embeddings=False,
    )
    model = Llama(cfg).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(4.0)
    assert len(quantize_linears(model, bits)) == 2 * 4 + 1  # qkv, out, gate_up, down per layer; head
    return model


@torch.inference_mode()
def recompute_greedy(model, prompt, tokens):
    ids = list(prompt)
    for _ in range(tokens):
        ids.append(int(model(torch.tensor(ids))[-1].argmax()))
    return ids[len(prompt) :]


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize(
    "config",
    [
        EngineConfig(num_blocks=64, block_size=4, max_running=4, max_tokens_per_step=64),
        EngineConfig(num_blocks=64, block_size=4, max_running=8, max_tokens_per_step=7),
        EngineConfig(num_blocks=96, block_size=4, max_running=2, speculative="ngram"),
        EngineConfig(num_blocks=96, block_size=4, max_running=2, speculative="draft"),
    ],
    ids=["continuous", "chunked-prefill", "ngram-speculation", "draft-speculation"],
)
def test_engine_with_quantized_weights_equals_one_at_a_time(bits, config):
    import random

    model = tiny_rtn_llama(bits)
    twin = float_twin(model)
    rng = random.Random(bits)
    system = [rng.randrange(96) for _ in range(12)]  # a shared prefix: prefix-cache hits
    prompts = [system + [rng.randrange(96) for _ in range(rng.randint(1, 20))] for _ in range(4)]
    seqs = Engine(model, config).generate(prompts, SamplingParams(temperature=0.0, max_tokens=10))
    assert [s.output_ids for s in seqs] == [recompute_greedy(twin, p, 10) for p in prompts]


# ---- the commands: --weights everywhere a model is loaded ------------------------------------------


@pytest.mark.parametrize("weights", ["auto", "int8", "int4", "float32"])
def test_generate_command_takes_weights(tiny_gguf, capsys, weights):
    from groundup.cli import main

    assert main(["generate", "ABC", "--model", tiny_gguf, "--max-tokens", "3", "--weights", weights]) == 0
    assert f"({weights} weights)" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["generate", "x"], ["chat"], ["ppl"], ["serve"]])
def test_every_model_command_offers_weights_defaulting_to_auto(command, capsys):
    from groundup.cli import main

    with pytest.raises(SystemExit):
        main([*command, "--help"])
    out = capsys.readouterr().out
    assert "--weights {auto,float,float32,bfloat16,int8,int4}" in out and "(default: auto)" in out


@pytest.mark.module("1.6")
def test_profile_decode_command_writes_the_study(tiny_gguf, tmp_path, capsys):
    from groundup.cli import main

    out = tmp_path / "study"
    args = ["profile", "decode", "float32", "auto:reference", "auto", "--model", tiny_gguf, "--tokens", "2"]
    assert main([*args, "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "## Top operators: auto:reference" in text and "bandwidth limit" in text
    assert len(list((out / "traces").glob("decode-*.json.gz"))) == 3
    assert main(["profile", "decode", "int3", "--model", tiny_gguf, "--out", str(out)]) == 1
    assert "is not FORM[:KERNEL]" in capsys.readouterr().err
