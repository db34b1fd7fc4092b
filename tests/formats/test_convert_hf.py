"""Hugging Face Llama folders <-> GGUF: a tiny transformers model both ways, shards and bad input;
the real SmolLM2 round trip (slow)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from groundup.errors import GroundupError
from groundup.formats import GGMLType
from groundup.formats.convert_hf import (
    from_llama_cpp_rows,
    gguf_to_hf,
    hf_to_gguf,
    llama3_rope_factors,
    to_llama_cpp_rows,
)
from groundup.formats.gguf import GGUFReader
from groundup.formats.gguf_writer import atomic_output

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
gguf = pytest.importorskip("gguf")
pytestmark = pytest.mark.module("1.4")

TEXT = "The quick brown fox jumps over 123 lazy dogs!"


def make_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=["<|endoftext|>", "<|im_start|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([TEXT * 20, "Hello world, 42 numbers and words."], trainer)
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|endoftext|>"
    )


@pytest.fixture(scope="module")
def tiny_hf(tmp_path_factory):
    """A 2-layer grouped-query Llama saved by transformers, untied head, with a trained byte-level BPE."""
    folder = tmp_path_factory.mktemp("tiny_hf")
    config = transformers.LlamaConfig(
        vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=128, tie_word_embeddings=False, bos_token_id=1,
        eos_token_id=0,
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).eval()
    model.save_pretrained(folder)
    tokenizer = make_tokenizer()
    tokenizer.save_pretrained(folder)
    return folder, model, tokenizer


def logits_of(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits if hasattr(model, "config") else model(torch.tensor([ids]))


def test_tiny_hf_to_gguf_matches_transformers(tiny_hf, tmp_path):
    from groundup.models.llama import Llama
    from groundup.tokenizers.gguf import from_gguf

    folder, hf_model, hf_tok = tiny_hf
    out = hf_to_gguf(folder, tmp_path / "tiny.gguf", "f32")
    ours, tok = Llama.from_gguf(out), from_gguf(out)
    ids = hf_tok.encode(TEXT)
    assert tok.encode(TEXT) == ids
    np.testing.assert_allclose(logits_of(ours, ids), logits_of(hf_model, ids), atol=1e-5, rtol=0)
    meta = GGUFReader(out).metadata
    assert meta["llama.attention.head_count_kv"] == 2 and meta["tokenizer.ggml.pre"] == "gpt2"
    assert meta["tokenizer.ggml.bos_token_id"] == 1 and meta["tokenizer.ggml.token_type"][:2] == [3, 3]
    ref = gguf.GGUFReader(out)  # the reference reader agrees on names, shapes and types
    names = set(GGUFReader(out).tensors)
    assert {t.name for t in ref.tensors} == names and "output.weight" in names  # an untied head
    assert {t.name: t.tensor_type.name for t in ref.tensors}["blk.1.attn_k.weight"] == "F32"


def test_file_types_from_hf(tiny_hf, tmp_path):
    folder = tiny_hf[0]
    f16 = GGUFReader(hf_to_gguf(folder, tmp_path / "f16.gguf", "f16"))
    assert f16.tensors["blk.0.attn_q.weight"].ggml_type is GGMLType.F16
    assert f16.tensors["blk.0.attn_norm.weight"].ggml_type is GGMLType.F32  # norms stay float32
    assert f16.metadata["general.file_type"] == 1
    q8 = GGUFReader(hf_to_gguf(folder, tmp_path / "q8.gguf", "q8_0"))
    assert q8.tensors["output.weight"].ggml_type is GGMLType.Q8_0
    # 64-wide rows cannot hold 256-weight super-blocks: Q4_K_M falls back exactly as llama.cpp does
    q4km = GGUFReader(hf_to_gguf(folder, tmp_path / "q4km.gguf", "q4_k_m"))
    assert q4km.tensors["blk.0.attn_q.weight"].ggml_type is GGMLType.Q5_0
    assert q4km.tensors["output.weight"].ggml_type is GGMLType.Q8_0
    assert q4km.tensors["blk.0.ffn_down.weight"].ggml_type is GGMLType.Q5_0  # 128 wide: Q4_K's fallback
    assert q4km.tensors["blk.1.ffn_down.weight"].ggml_type is GGMLType.Q8_0  # last layer: Q6_K's fallback


def test_gguf_to_hf_loads_in_transformers(tiny_hf, tmp_path):
    from groundup.models.llama import Llama

    folder, hf_model, hf_tok = tiny_hf
    out = hf_to_gguf(folder, tmp_path / "tiny.gguf", "f32")
    back = gguf_to_hf(out, tmp_path / "back")
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(back).eval()
    tok = transformers.AutoTokenizer.from_pretrained(back)
    ids = hf_tok.encode(TEXT)
    assert tok.encode(TEXT) == ids
    np.testing.assert_allclose(
        logits_of(reloaded, ids), logits_of(Llama.from_gguf(out), ids), atol=1e-5, rtol=0
    )
    again = GGUFReader(hf_to_gguf(back, tmp_path / "again.gguf", "f32"))
    first = GGUFReader(out)
    for name in first.tensors:
        np.testing.assert_array_equal(again.dequantize(name), first.dequantize(name))


def test_sharded_checkpoint_converts_like_one_file(tiny_hf, tmp_path):
    folder, hf_model, _ = tiny_hf
    sharded = tmp_path / "sharded"
    hf_model.save_pretrained(sharded, max_shard_size="60KB")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(folder / name, sharded / name)
    assert (sharded / "model.safetensors.index.json").is_file()
    one = GGUFReader(hf_to_gguf(folder, tmp_path / "one.gguf", "f32"))
    many = GGUFReader(hf_to_gguf(sharded, tmp_path / "many.gguf", "f32"))
    assert list(one.tensors) == list(many.tensors)
    for name in one.tensors:
        np.testing.assert_array_equal(one.tensor(name), many.tensor(name))

    index = json.loads((sharded / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    name = next(n for n, s in index["weight_map"].items() if s == shards[0])
    index["weight_map"][name] = shards[1]  # the index now points at a shard without the tensor
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(GroundupError, match=f"{shards[1]} does not hold '{name}'"):
        hf_to_gguf(sharded, tmp_path / "bad.gguf")
    (sharded / shards[1]).unlink()
    with pytest.raises(GroundupError, match=f"{shards[1]} is missing"):
        hf_to_gguf(sharded, tmp_path / "bad.gguf")
    assert not (tmp_path / "bad.gguf").exists()


def test_bad_folders(tiny_hf, tmp_path):
    folder = tiny_hf[0]
    other = tmp_path / "gpt2"
    shutil.copytree(folder, other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(
        GroundupError, match=r"config.json: architecture \['GPT2LMHeadModel'\] is not supported"
    ):
        hf_to_gguf(other, tmp_path / "x.gguf")
    (other / "config.json").write_text(json.dumps(config))
    (other / "model.safetensors").unlink()
    with pytest.raises(GroundupError, match="no model.safetensors"):
        hf_to_gguf(other, tmp_path / "x.gguf")
    with pytest.raises(GroundupError, match="config.json is missing"):
        hf_to_gguf(tmp_path / "nothing-here", tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()


def test_rope_row_order_round_trip_and_llama3_factors():
    rows = np.arange(3 * 8 * 5, dtype=np.float32).reshape(3 * 8, 5)  # 3 heads of 8 rows
    moved = to_llama_cpp_rows(rows, 3)
    # head 0: halves (0..3 | 4..7) become interleaved pairs (0, 4, 1, 5, ...)
    assert moved[:8, 0].tolist() == rows[[0, 4, 1, 5, 2, 6, 3, 7], 0].tolist()
    np.testing.assert_array_equal(from_llama_cpp_rows(moved, 3), rows)
    factors = llama3_rope_factors(500000.0, 128, {"factor": 32.0, "original_max_position_embeddings": 8192})
    assert factors.shape == (64,) and factors[0] == 1.0 and factors[-1] == 32.0
    assert np.all(np.diff(factors) >= 0)


def test_interrupted_write_leaves_no_file(tmp_path):
    target = tmp_path / "model.gguf"
    with pytest.raises(KeyboardInterrupt), atomic_output(target) as f:
        f.write(b"GGUF half a header")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_smollm2_gguf_to_hf_and_back(tmp_path, smollm2_path, our_reader):
    """The real model: GGUF -> HF folder (float32) -> GGUF gives the same tensors and model/tokenizer
    metadata; transformers loads the folder and its logits equal our model's."""
    from groundup.models.llama import Llama
    from groundup.tokenizers.gguf import from_gguf

    folder = gguf_to_hf(smollm2_path, tmp_path / "hf")
    hf = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    hf_tok = transformers.AutoTokenizer.from_pretrained(folder)
    text = "The capital of France is Paris. 12345 numbers!"
    ids = from_gguf(smollm2_path).encode(text)
    assert hf_tok.encode(text) == ids
    np.testing.assert_allclose(
        logits_of(hf, ids), logits_of(Llama.from_gguf(smollm2_path), ids), atol=1e-4, rtol=0
    )
    back = GGUFReader(hf_to_gguf(folder, tmp_path / "back.gguf", "f32"))
    assert set(back.tensors) == set(our_reader.tensors)
    for name in our_reader.tensors:
        np.testing.assert_array_equal(back.dequantize(name), our_reader.dequantize(name))
    model_keys = [
        k
        for k in our_reader.metadata
        if k.startswith(("llama.", "tokenizer.")) or k == "general.architecture"
    ]
    assert {k: back.metadata[k] for k in model_keys} == {k: our_reader.metadata[k] for k in model_keys}


def test_cli_from_hf_to_hf_and_compare(tiny_hf, tmp_path, capsys, data_dir):
    import argparse

    from groundup.commands import formats as formats_cli

    def run(*argv):
        parser = argparse.ArgumentParser(prog="groundup")
        formats_cli.register(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(["gguf", *map(str, argv)])
        return args.func(args)

    folder = tiny_hf[0]
    assert run("from-hf", folder, tmp_path / "a.gguf", "--type", "q8_0") == 0
    assert run("convert", tmp_path / "a.gguf", tmp_path / "b.gguf", "--type", "q4_0") == 0
    assert run("to-hf", tmp_path / "a.gguf", tmp_path / "hf", "--dtype", "float16") == 0
    args = ("--windows", 2, "--window-len", 16, "--tokens", 3)
    assert run("compare", tmp_path / "a.gguf", tmp_path / "b.gguf", *args) == 0
    out = capsys.readouterr().out
    assert "Q8_0" in out and "| a.gguf |" in out and "| b.gguf |" in out and "perplexity (ours)" in out
    assert (tmp_path / "hf" / "model.safetensors").is_file()
