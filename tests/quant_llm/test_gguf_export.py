"""GGUF export of a W4 g32 model: gguf-py (llama.cpp's reader) decodes our Q4_1 blocks to our weights,
and the exported file loads back into the same model."""

import copy

import numpy as np
import pytest
import torch

from groundup.formats.ggml_types import GGMLType
from groundup.formats.gguf_writer import GGUFWriter
from groundup.models.llama import Llama
from groundup.quant.llm.gguf_export import _to_llama_cpp_order, export_gguf
from groundup.quant.llm.quantize import quantize_llm

pytestmark = pytest.mark.module("1.2")


def write_source_gguf(model, path):
    """The tiny model as an F32 llama.cpp-style GGUF (q/k rows in llama.cpp's RoPE order)."""
    cfg = model.cfg
    w = GGUFWriter(path)
    for key, value in {
        "general.architecture": "llama",
        "llama.block_count": cfg.n_layers,
        "llama.embedding_length": cfg.dim,
        "llama.feed_forward_length": cfg.hidden_dim,
        "llama.attention.head_count": cfg.n_heads,
        "llama.attention.head_count_kv": cfg.n_kv_heads,
        "llama.context_length": cfg.max_context,
        "llama.attention.layer_norm_rms_epsilon": cfg.norm_eps,
        "llama.rope.freq_base": cfg.rope_theta,
        "llama.vocab_size": cfg.vocab_size,
    }.items():
        w.add_field(key, value)

    def add(name, t):
        a = t.detach().float().numpy()
        w.add_tensor(name, a, GGMLType.F32, a.shape)

    add("token_embd.weight", model.embed.weight)
    add("output_norm.weight", model.norm.weight)
    q_rows, kv_rows = cfg.n_heads * cfg.head_dim, cfg.n_kv_heads * cfg.head_dim
    for i, b in enumerate(model.blocks):
        qkv = b.attn.qkv.weight.detach()
        add(
            f"blk.{i}.attn_q.weight", torch.from_numpy(_to_llama_cpp_order(qkv[:q_rows].numpy(), cfg.n_heads))
        )
        add(
            f"blk.{i}.attn_k.weight",
            torch.from_numpy(_to_llama_cpp_order(qkv[q_rows : q_rows + kv_rows].numpy(), cfg.n_kv_heads)),
        )
        add(f"blk.{i}.attn_v.weight", qkv[q_rows + kv_rows :])
        add(f"blk.{i}.attn_output.weight", b.attn.out.weight)
        add(f"blk.{i}.ffn_gate.weight", b.mlp.gate_up.weight[: cfg.hidden_dim])
        add(f"blk.{i}.ffn_up.weight", b.mlp.gate_up.weight[cfg.hidden_dim :])
        add(f"blk.{i}.ffn_down.weight", b.mlp.down.weight)
        add(f"blk.{i}.attn_norm.weight", b.attn_norm.weight)
        add(f"blk.{i}.ffn_norm.weight", b.mlp_norm.weight)
    return w.write()


def test_w4_g32_exports_as_q4_1(tmp_path, tiny_llama, windows):
    gguf = pytest.importorskip("gguf")
    source = write_source_gguf(tiny_llama, tmp_path / "tiny.gguf")
    base = Llama.from_gguf(source)
    with torch.no_grad():
        torch.testing.assert_close(base(windows), tiny_llama(windows))  # the source file is faithful
    quantized = quantize_llm(copy.deepcopy(base), "gptq", 4, 32, windows=windows)
    exported = export_gguf(quantized, source, tmp_path / "tiny-q4_1.gguf")

    reader = gguf.GGUFReader(exported)
    tensor = next(t for t in reader.tensors if t.name == "blk.1.ffn_down.weight")
    assert tensor.tensor_type == gguf.GGMLQuantizationType.Q4_1
    theirs = gguf.quants.dequantize(tensor.data, tensor.tensor_type).reshape(64, 128)
    ours = quantized.blocks[1].mlp.down.qweight.dequantize().numpy()
    np.testing.assert_allclose(
        theirs, ours, atol=2e-3 * np.abs(ours).max(), rtol=0
    )  # m = -z·s rounded to f16

    reloaded = Llama.from_gguf(exported)
    with torch.no_grad():
        torch.testing.assert_close(reloaded(windows), quantized(windows), atol=2e-2, rtol=1e-2)


def test_export_refuses_formats_without_a_ggml_type(tmp_path, tiny_llama):
    source = write_source_gguf(tiny_llama, tmp_path / "tiny.gguf")
    model = quantize_llm(Llama.from_gguf(source), "rtn", 4, 64)
    with pytest.raises(ValueError, match="no ggml type matches 4-bit weights with group size 64"):
        export_gguf(model, source, tmp_path / "out.gguf")
