"""Export a weight-only quantized Llama to GGUF when a ggml block type holds our codes as they are.

ggml's Q4_1 stores blocks of 32 weights as x = d·q + m with a float16 d and m and 4-bit q. Our
asymmetric group-32 INT4 weights are x = (q - z)·s, i.e. d = s (already float16-exact) and m = -z·s
(rounded to float16, the only loss), with the very same codes. So RTN/GPTQ/AWQ W4 g32 (without
act-order's permuted groups) export exactly as Q4_1; other widths/groups have no matching ggml type
and are refused (Q8_0 and Q4_0 are symmetric, our codes are not).

The fused qkv and gate_up projections are split back into llama.cpp's attn_q/k/v and ffn_gate/up, and
the q/k rows are put back into llama.cpp's interleaved-pairs RoPE order. Norm weights are written from
the model (AWQ folds its scales into them); the embedding is copied from the source file untouched.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import torch

from groundup.formats.ggml_types import GGMLType
from groundup.formats.gguf import GGUFReader, ValueType
from groundup.formats.gguf_writer import GGUFWriter
from groundup.quant.llm.qweight import QuantizedWeight, WeightOnlyLinear

Q4_1_FILE_TYPE = 3  # llama.cpp's LLAMA_FTYPE_MOSTLY_Q4_1
LINEAR = re.compile(r"blk\.(\d+)\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight")
NORMS = {"attn_norm": "attn_norm", "ffn_norm": "mlp_norm"}


def _to_llama_cpp_order(rows: np.ndarray, n_heads: int) -> np.ndarray:
    """Row order of one q/k projection: per head (2, D/2) halves -> (D/2, 2) interleaved pairs."""
    n = rows.shape[0]
    return rows.reshape(n_heads, 2, n // n_heads // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def q4_1_blocks(qw: QuantizedWeight) -> np.ndarray:
    """(out, in/32 · 20) uint8: per block f16 d, f16 m, 16 bytes (weight j low nibble, j + 16 high)."""
    if qw.bits != 4 or qw.group_size != 32 or not qw.has_trivial_g_idx():
        raise ValueError(
            f"GGUF export: no ggml type matches {qw.bits}-bit weights with group size {qw.group_size}; "
            "quantize with --bits 4 --group-size 32 (exported as Q4_1), without act-order"
        )
    out_f, in_f = qw.shape
    d = qw.scale.numpy().astype(np.float16)  # (out, G)
    m = (-qw.zero.float() * qw.scale).numpy().astype(np.float16)
    codes = qw.codes.numpy().reshape(out_f, in_f // 32, 32)
    qs = (codes[..., :16] & 0x0F) | (codes[..., 16:] << 4)  # (out, G, 16)
    blocks = np.concatenate(
        [d[..., None].view(np.uint8), m[..., None].view(np.uint8), qs.astype(np.uint8)], axis=-1
    )
    return blocks.reshape(out_f, -1)


def _rows(qw: QuantizedWeight, rows: slice) -> QuantizedWeight:
    return QuantizedWeight(qw.codes[rows], qw.scale[rows], qw.zero[rows], qw.g_idx, qw.bits, qw.group_size)


def _linear_blocks(model, layer: int, kind: str) -> np.ndarray:
    cfg, block = model.cfg, model.blocks[layer]
    source = {"attn_output": block.attn.out, "ffn_down": block.mlp.down}.get(kind)
    q_rows, kv_rows = cfg.n_heads * cfg.head_dim, cfg.n_kv_heads * cfg.head_dim
    slices = {
        "attn_q": (block.attn.qkv, slice(0, q_rows)),
        "attn_k": (block.attn.qkv, slice(q_rows, q_rows + kv_rows)),
        "attn_v": (block.attn.qkv, slice(q_rows + kv_rows, None)),
        "ffn_gate": (block.mlp.gate_up, slice(0, cfg.hidden_dim)),
        "ffn_up": (block.mlp.gate_up, slice(cfg.hidden_dim, None)),
    }
    module, rows = (source, slice(None)) if source is not None else slices[kind]
    if not isinstance(module, WeightOnlyLinear):
        raise ValueError(
            f"GGUF export: blk.{layer}.{kind} is a {type(module).__name__}; only weight-only INT4 (rtn/gptq/awq) exports"
        )
    data = q4_1_blocks(_rows(module.qweight, rows))
    if kind in ("attn_q", "attn_k"):
        data = _to_llama_cpp_order(data, cfg.n_heads if kind == "attn_q" else cfg.n_kv_heads)
    return data


@torch.no_grad()
def export_gguf(model, source: str | os.PathLike, destination: str | os.PathLike) -> Path:
    """Write `model` (a groundup Llama quantized W4 g32) as GGUF, with metadata and embedding from `source`."""
    reader = GGUFReader(source)
    writer = GGUFWriter(destination, alignment=reader.alignment)
    for field in reader.fields.values():
        writer.add_field(field.name, field.value, field.type, field.item_type)
    writer.add_field("general.file_type", Q4_1_FILE_TYPE, ValueType.UINT32)
    for name, info in reader.tensors.items():
        match = LINEAR.fullmatch(name)
        parts = name.split(".")
        if match:
            writer.add_tensor(name, _linear_blocks(model, int(match[1]), match[2]), GGMLType.Q4_1, info.shape)
        elif len(parts) == 4 and parts[2] in NORMS:
            weight = getattr(model.blocks[int(parts[1])], NORMS[parts[2]]).weight
            writer.add_tensor(name, weight.float().numpy(), GGMLType.F32, info.shape)
        elif name == "output_norm.weight":
            writer.add_tensor(name, model.norm.weight.float().numpy(), GGMLType.F32, info.shape)
        else:  # token embedding (never quantized by these methods), rope factors, ...
            writer.add_tensor(name, reader.tensor(name), info.ggml_type, info.shape)
    return writer.write()
