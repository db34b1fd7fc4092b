"""A GGUF whose metadata parses but does not describe its tensors is refused with one line naming the
key, its value and what the tensors imply (issue 14: ZeroDivisionError, IndexError and size-mismatch
tracebacks before)."""

from __future__ import annotations

import pytest
import torch

from groundup.cli import main
from groundup.formats.ggml_types import GGMLType
from groundup.formats.gguf_writer import GGUFWriter
from groundup.models.llama import Llama, LlamaConfig

pytestmark = pytest.mark.module("1.4")

CFG = LlamaConfig(vocab_size=40, dim=16, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=24, max_context=32)


def write_tiny_llama(path, **overrides) -> str:
    """A random 2-layer Llama as an F32 GGUF, with metadata keys replaced by `overrides`."""
    torch.manual_seed(0)
    model = Llama(CFG)
    meta = {
        "general.architecture": "llama",
        "llama.block_count": CFG.n_layers,
        "llama.embedding_length": CFG.dim,
        "llama.feed_forward_length": CFG.hidden_dim,
        "llama.attention.head_count": CFG.n_heads,
        "llama.attention.head_count_kv": CFG.n_kv_heads,
        "llama.context_length": CFG.max_context,
        "llama.vocab_size": CFG.vocab_size,
    } | {f"llama.{k.replace('__', '.')}": v for k, v in overrides.items()}
    writer = GGUFWriter(path)
    for key, value in meta.items():
        writer.add_field(key, value)

    def add(name, tensor):
        a = tensor.detach().float().numpy()
        writer.add_tensor(name, a, GGMLType.F32, a.shape)

    add("token_embd.weight", model.embed.weight)
    add("output_norm.weight", model.norm.weight)
    q, kv = CFG.n_heads * CFG.head_dim, CFG.n_kv_heads * CFG.head_dim
    for i, b in enumerate(model.blocks):
        w = b.attn.qkv.weight
        for part, rows in (("attn_q", w[:q]), ("attn_k", w[q : q + kv]), ("attn_v", w[q + kv :])):
            add(f"blk.{i}.{part}.weight", rows)
        add(f"blk.{i}.attn_output.weight", b.attn.out.weight)
        add(f"blk.{i}.ffn_gate.weight", b.mlp.gate_up.weight[: CFG.hidden_dim])
        add(f"blk.{i}.ffn_up.weight", b.mlp.gate_up.weight[CFG.hidden_dim :])
        add(f"blk.{i}.ffn_down.weight", b.mlp.down.weight)
        add(f"blk.{i}.attn_norm.weight", b.attn_norm.weight)
        add(f"blk.{i}.ffn_norm.weight", b.mlp_norm.weight)
    return str(writer.write())


def test_a_consistent_tiny_file_loads(tmp_path):
    model = Llama.from_gguf(write_tiny_llama(tmp_path / "ok.gguf"))
    assert model.cfg.n_layers == 2 and model(torch.tensor([[1, 2, 3]])).shape == (1, 3, 40)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"attention__head_count": 0}, "llama.attention.head_count = 0; it must be a positive number"),
        ({"attention__head_count_kv": 0}, "llama.attention.head_count_kv = 0; it must be a positive number"),
        ({"block_count": 0}, "llama.block_count = 0; it must be a positive number"),
        ({"block_count": 3}, "llama.block_count = 3, but the file holds tensors for 2 blocks"),
        ({"embedding_length": 17}, "llama.embedding_length = 17"),
        ({"feed_forward_length": 30}, "llama.feed_forward_length = 30"),
        ({"attention__head_count_kv": 4}, "head_count_kv = 4"),
    ],
)
def test_inconsistent_metadata_is_one_line_naming_the_key(tmp_path, capsys, override, message):
    path = write_tiny_llama(tmp_path / "bad.gguf", **override)
    assert main(["generate", "hi", "--model", path, "--max-tokens", "1"]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
