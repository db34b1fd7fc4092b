"""llama.cpp's file-type mixtures: which ggml type each tensor gets, and the shape fallback."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from groundup.formats import GGMLType
from groundup.formats.convert import convert
from groundup.formats.ggml_quants import quantize
from groundup.formats.gguf import GGUFReader
from groundup.formats.gguf_writer import GGUFWriter
from groundup.formats.mixtures import fallback, file_type, llama_cpp_order, plan_types, use_more_bits

gguf = pytest.importorskip("gguf")
pytestmark = pytest.mark.module("1.4")
T = GGMLType


def llama_shapes(n_layers: int, dim: int, hidden: int, kv_dim: int, vocab: int, tied: bool) -> dict:
    shapes = {"token_embd.weight": (vocab, dim), "output_norm.weight": (dim,)}
    if not tied:
        shapes["output.weight"] = (vocab, dim)
    for i in range(n_layers):
        b = f"blk.{i}."
        shapes |= {
            b + "attn_norm.weight": (dim,),
            b + "attn_q.weight": (dim, dim),
            b + "attn_k.weight": (kv_dim, dim),
            b + "attn_v.weight": (kv_dim, dim),
            b + "attn_output.weight": (dim, dim),
            b + "ffn_norm.weight": (dim,),
            b + "ffn_gate.weight": (hidden, dim),
            b + "ffn_up.weight": (hidden, dim),
            b + "ffn_down.weight": (dim, hidden),
        }
    return shapes


def test_llama_7b_q4_k_m_mixture():
    """The well-known Q4_K_M recipe on Llama-2-7B's shapes (32 layers, 4096 wide, 11008 hidden)."""
    plan = plan_types(llama_shapes(32, 4096, 11008, 4096, 32000, tied=False), "q4_k_m", 32, 32, 32)
    protected = [i for i in range(32) if plan[f"blk.{i}.ffn_down.weight"] is T.Q6_K]
    assert protected == [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]
    assert [i for i in range(32) if plan[f"blk.{i}.attn_v.weight"] is T.Q6_K] == protected
    assert plan["output.weight"] is T.Q6_K and plan["token_embd.weight"] is T.Q4_K
    assert plan["blk.7.attn_q.weight"] is T.Q4_K and plan["blk.7.ffn_gate.weight"] is T.Q4_K
    assert plan["blk.7.attn_norm.weight"] is None and plan["output_norm.weight"] is None


def test_other_mixtures_on_7b_shapes():
    shapes = llama_shapes(32, 4096, 11008, 4096, 32000, tied=False)
    s = plan_types(shapes, "q4_k_s", 32, 32, 32)
    assert [i for i in range(32) if s[f"blk.{i}.ffn_down.weight"] is T.Q5_K] == [0, 1, 2, 3]
    assert [i for i in range(32) if s[f"blk.{i}.attn_v.weight"] is T.Q5_K] == [0, 1, 2, 3]
    m5 = plan_types(shapes, "q5_k_m", 32, 32, 32)
    assert m5["blk.0.ffn_down.weight"] is T.Q6_K and m5["blk.4.ffn_down.weight"] is T.Q5_K
    q6 = plan_types(shapes, "q6_k", 32, 32, 32)
    assert set(q6.values()) == {T.Q6_K, None}
    q2 = plan_types(shapes, "q2_k", 32, 32, 32)
    assert q2["blk.3.attn_v.weight"] is T.Q3_K and q2["blk.3.ffn_down.weight"] is T.Q3_K
    assert q2["blk.3.attn_output.weight"] is T.Q3_K and q2["blk.3.attn_q.weight"] is T.Q2_K
    gqa = plan_types(shapes, "q2_k", 32, 32, 8)  # 4 query heads per K/V head: V gets more bits
    assert gqa["blk.3.attn_v.weight"] is T.Q4_K
    m3 = plan_types(shapes, "q3_k_m", 32, 32, 32)
    assert m3["blk.0.attn_v.weight"] is T.Q5_K and m3["blk.2.attn_v.weight"] is T.Q4_K
    assert m3["blk.1.ffn_down.weight"] is T.Q5_K and m3["blk.2.ffn_down.weight"] is T.Q4_K
    legacy = plan_types(shapes, "q4_0", 32, 32, 32)
    assert legacy["output.weight"] is T.Q6_K and legacy["blk.0.ffn_down.weight"] is T.Q4_0
    assert set(plan_types(shapes, "f16", 32, 32, 32).values()) == {T.F16, None}


def test_smollm2_q4_k_m_falls_back_on_576_wide_rows(our_reader):
    """576 = 2.25 super-blocks: Q4_K -> Q5_0, Q6_K -> Q8_0; ffn_down rows (1536) keep K-quants."""
    shapes = {n: t.shape for n, t in our_reader.tensors.items()}
    plan = plan_types(shapes, "q4_k_m", 30, 9, 3)
    protected = [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29]
    assert [i for i in range(30) if plan[f"blk.{i}.ffn_down.weight"] is T.Q6_K] == protected
    assert [i for i in range(30) if plan[f"blk.{i}.attn_v.weight"] is T.Q8_0] == protected
    assert plan["token_embd.weight"] is T.Q8_0  # tied to the output: Q6_K's fallback
    counts = collections.Counter(plan.values())
    assert counts == {T.Q5_0: 166, None: 61, T.Q4_K: 16, T.Q8_0: 15, T.Q6_K: 14}


def test_fallback_rule():
    assert fallback(T.Q4_K, 4096) is T.Q4_K
    assert fallback(T.Q4_K, 576) is T.Q5_0 and fallback(T.Q5_K, 576) is T.Q5_1
    assert fallback(T.Q6_K, 576) is T.Q8_0 and fallback(T.Q3_K, 576) is T.Q4_0
    assert fallback(T.Q2_K, 576) is T.Q4_0 and fallback(T.Q4_K, 100) is T.F16
    assert fallback(T.Q8_0, 100) is T.F16


def test_use_more_bits_and_order():
    assert [i for i in range(8) if use_more_bits(i, 8)] == [0, 3, 6, 7]
    names = [
        "blk.10.attn_q.weight",
        "output.weight",
        "blk.2.ffn_up.weight",
        "blk.2.attn_k.weight",
        "a.weight",
    ]
    assert llama_cpp_order(names) == [
        "a.weight",
        "output.weight",
        "blk.2.attn_k.weight",
        "blk.2.ffn_up.weight",
        "blk.10.attn_q.weight",
    ]
    with pytest.raises(ValueError, match="q4_k_m"):
        file_type("q4_k_x")


def test_convert_tiny_model_to_q4_k_m_and_fallback(tmp_path):
    """A 2-layer model with 256-wide and 96-wide rows: K-quants where they fit, the fallback where not,
    norms copied, metadata re-ordered like llama.cpp's, and `gguf` reads the result."""
    rng = np.random.default_rng(0)
    src = tmp_path / "tiny.gguf"
    w = GGUFWriter(src)
    w.add_field("general.architecture", "llama")
    w.add_field("general.file_type", 0)
    w.add_field("llama.block_count", 2)
    w.add_field("llama.attention.head_count", 4)
    shapes = llama_shapes(2, 256, 96, 256, 64, tied=True)
    for name, shape in shapes.items():
        w.add_tensor(name, rng.standard_normal(shape).astype(np.float32), T.F32, shape)
    w.write()
    out = convert(src, tmp_path / "q4km.gguf", "q4_k_m", order="llama.cpp")
    ours = GGUFReader(out)
    assert list(ours.fields)[-2:] == ["general.quantization_version", "general.file_type"]
    assert ours.metadata["general.file_type"] == 15
    types = {n: t.ggml_type for n, t in ours.tensors.items()}
    assert types["blk.0.attn_q.weight"] is T.Q4_K and types["blk.0.attn_v.weight"] is T.Q4_K
    assert types["blk.1.attn_v.weight"] is T.Q6_K  # use_more_bits(1, 2): the last eighth
    assert types["blk.0.ffn_down.weight"] is T.Q5_0 and types["blk.1.ffn_down.weight"] is T.Q8_0  # 96 wide
    assert types["token_embd.weight"] is T.Q6_K and types["blk.0.attn_norm.weight"] is T.F32
    assert list(ours.tensors) == llama_cpp_order(shapes)
    x = GGUFReader(src).dequantize("blk.1.attn_q.weight")
    np.testing.assert_array_equal(ours.tensor("blk.1.attn_q.weight"), quantize(x, T.Q4_K))
    ref = gguf.GGUFReader(out)
    assert {t.name: t.tensor_type.name for t in ref.tensors}["blk.1.ffn_gate.weight"] == "Q4_K"


def test_cli_lists_every_file_type():
    from groundup.commands.formats import FILE_TYPES as CLI_TYPES
    from groundup.formats.mixtures import FILE_TYPES

    assert set(CLI_TYPES) == set(FILE_TYPES)
