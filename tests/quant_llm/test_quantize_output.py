"""`groundup quantize` explains its size (issue 14.8): quantized block Linears beside the float32
embeddings and norms, and the source GGUF's size, so a model larger than its source file reads right."""

import re

import pytest
import torch

from groundup.models.llama import Llama, LlamaConfig
from groundup.quant.llm.cli import size_line
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
