"""`groundup quantize` explains its size (issue 14.8): quantized block Linears beside the float32
embeddings and norms, and the source GGUF's size, so a model larger than its source file reads right."""

import re

import pytest
import torch

from groundup.commands.quant_llm import size_line
from groundup.models.llama import Llama, LlamaConfig
from groundup.quant.llm.quantize import quantize_llm

pytestmark = pytest.mark.module("1.2")


def test_size_line_splits_quantized_linears_from_float_embeddings(tmp_path):
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=8192, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=128, max_context=64
    )
    model = Llama(cfg).eval()
    paths = [
        n for n, m in model.named_modules() if n.startswith("blocks.") and isinstance(m, torch.nn.Linear)
    ]
    source = tmp_path / "source.gguf"
    source.write_bytes(bytes(500_000))
    line = size_line(quantize_llm(model, "rtn", 4, 32), paths, source)
    total, linear, other, src = map(float, re.findall(r"(\d+\.\d+) MB", line))
    assert "bits/weight" in line and "float32 embeddings and norms" in line and src == 0.5
    assert total == pytest.approx(linear + other, abs=0.11)
    assert other == pytest.approx(8192 * 64 * 4 / 1e6, abs=0.1)  # the embedding stays float32


@pytest.fixture
def quantized_dir(tmp_path):
    """A tiny random Llama over SmolLM2's vocabulary, RTN W4, saved as `groundup quantize --out` does."""
    from groundup.data import smollm2_gguf_path
    from groundup.quant.llm.checkpoint import save_quantized

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=49152, dim=32, n_layers=1, n_heads=2, n_kv_heads=1, hidden_dim=64, max_context=64
    )
    model = quantize_llm(Llama(cfg).eval(), "rtn", 4, 32)
    info = {"method": "rtn", "bits": 4, "group_size": 32, "source": str(smollm2_gguf_path())}
    save_quantized(model, tmp_path / "q", info)
    return tmp_path / "q"


def test_a_quantized_folder_loads_where_a_model_is_taken(quantized_dir, capsys):
    """`quantize --out DIR` was a dead end for generate/chat/ppl/serve (issue 14.8): now --model DIR works."""
    from groundup.cli import main
    from groundup.generate.sampling import SamplingParams
    from groundup.quant.llm.qweight import WeightOnlyLinear
    from groundup.serve.config import EngineConfig
    from groundup.serve.launch import load_engine

    engine, tokenizer, _ = load_engine(quantized_dir, EngineConfig(num_blocks=16, block_size=8))
    assert isinstance(engine.model.blocks[0].attn.out, WeightOnlyLinear)
    (seq,) = engine.generate([tokenizer.encode("Hello")], SamplingParams(temperature=0.0, max_tokens=4))
    assert len(seq.output_ids) == 4
    assert main(["generate", "Hello", "--model", str(quantized_dir), "--max-tokens", "3"]) == 0
    assert capsys.readouterr().out.startswith("Hello")


def test_a_quantized_folder_without_its_source_gguf_says_what_to_do(quantized_dir, capfd):
    from groundup.cli import main

    manifest = quantized_dir / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"source"', '"was_source"'))
    assert main(["generate", "Hello", "--model", str(quantized_dir)]) == 1
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "--gguf" in err and "not recorded" in err
    assert main(["quantize", "--method", "rtn", "--model", str(quantized_dir)]) == 1
    assert "quantized already" in capfd.readouterr().err


@pytest.mark.parametrize("method", ["rtn", "nf4"])
def test_every_method_reports_progress_per_block(method):
    """`quantize --method rtn` ran for minutes on a busy machine without a word (issue 14.7): every
    method now reports each decoder block, as GPTQ and AWQ did."""
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=64, dim=64, n_layers=3, n_heads=4, n_kv_heads=2, hidden_dim=128, max_context=32
    )
    heard = []
    quantize_llm(Llama(cfg).eval(), method, 4, 32 if method == "rtn" else None, progress=heard.append)
    assert heard == [f"{method}: block {i}/3 quantized" for i in (1, 2, 3)]
