"""llama.cpp's file types: which ggml type each tensor of a Llama model gets (Q4_K_M and friends).

A file type such as Q4_K_M is a *mixture*, not one block format: llama.cpp's `quantize` gives most
matrices the base type (Q4_K) and spends more bits where quantization hurts most:

- the output head (or the token embedding when the two are tied) -> Q6_K;
- `attn_v` and `ffn_down` in the first and last eighth of the layers and every third layer between
  (`use_more_bits`) -> Q6_K for Q4_K_M / Q5_K_M; the first layers' `attn_v`/`ffn_down` -> Q5_K for
  Q4_K_S; the `_M`/`_L` variants of Q3_K raise `attn_v`, `attn_output` and `ffn_down`;
- norms and other vectors are never quantized (they are tiny and sensitive).

A K-quant needs rows that split into 256-weight super-blocks. When a row does not (SmolLM2's width is
576 = 2.25 x 256), llama.cpp falls back to a 32-weight format of about the same size: Q4_K -> Q5_0,
Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K/Q3_K -> Q4_0, and to F16 if even 32 does not divide the row. We
apply the same rule, so a requested type is never written as a corrupt file.

The rules are those of llama.cpp's `llama_tensor_get_type` for dense Llama-architecture models
(no experts, no importance matrix); the layer counters run over the tensors in llama.cpp's order
(`llama_cpp_order`: by layer number, then name), which is also the order we write them in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from groundup.formats.ggml_types import LAYOUTS, GGMLType

T = GGMLType


@dataclass(frozen=True)
class FileType:
    name: str
    ftype: int  # llama.cpp's `llama_ftype`, stored as general.file_type
    base: GGMLType  # the type most matrices get


FILE_TYPES = {
    ft.name: ft
    for ft in (
        FileType("f32", 0, T.F32),
        FileType("f16", 1, T.F16),
        FileType("bf16", 32, T.BF16),
        FileType("q8_0", 7, T.Q8_0),
        FileType("q4_0", 2, T.Q4_0),
        FileType("q4_1", 3, T.Q4_1),
        FileType("q5_0", 8, T.Q5_0),
        FileType("q5_1", 9, T.Q5_1),
        FileType("q2_k", 10, T.Q2_K),
        FileType("q3_k_s", 11, T.Q3_K),
        FileType("q3_k_m", 12, T.Q3_K),
        FileType("q3_k_l", 13, T.Q3_K),
        FileType("q4_k_s", 14, T.Q4_K),
        FileType("q4_k_m", 15, T.Q4_K),
        FileType("q5_k_s", 16, T.Q5_K),
        FileType("q5_k_m", 17, T.Q5_K),
        FileType("q6_k", 18, T.Q6_K),
    )
}
FALLBACK = {T.Q2_K: T.Q4_0, T.Q3_K: T.Q4_0, T.Q4_K: T.Q5_0, T.Q5_K: T.Q5_1, T.Q6_K: T.Q8_0}
PLAIN = (T.F32, T.F16, T.BF16)
_LAYER = re.compile(r"blk\.(\d+)\.")


def file_type(name: str) -> FileType:
    """The file type called `name` (case-insensitive), or ValueError listing the known ones."""
    key = name.lower()
    if key not in FILE_TYPES:
        raise ValueError(f"type: unknown file type {name!r}; supported: {', '.join(FILE_TYPES)}")
    return FILE_TYPES[key]


def llama_cpp_order(names) -> list[str]:
    """Tensor names in llama.cpp's order: tensors outside the blocks first, then block by block,
    by name within each (so blk.2 comes before blk.10)."""

    def key(name: str):
        match = _LAYER.match(name)
        return (int(match[1]) if match else -1, name)

    return sorted(names, key=key)


def quantizable(name: str, shape: tuple[int, ...]) -> bool:
    """llama.cpp quantizes 2-D (and 3-D) weights only; norms keep their stored type."""
    return len(shape) >= 2 and name.endswith("weight") and "_norm.weight" not in name


def fallback(ggml_type: GGMLType, row: int) -> GGMLType:
    """The type actually used for rows of `row` weights (llama.cpp's `tensor_type_fallback`)."""
    if row % LAYOUTS[ggml_type].block_size == 0:
        return ggml_type
    substitute = FALLBACK.get(ggml_type, ggml_type)
    return substitute if row % LAYOUTS[substitute].block_size == 0 else T.F16


def use_more_bits(i: int, n: int) -> bool:
    """The layers llama.cpp protects: the first and last eighth, and every third one between."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _category(name: str) -> str:
    if name == "output.weight":
        return "output"
    if name == "token_embd.weight":
        return "token_embd"
    for part in ("attn_qkv", "attn_kv_b", "attn_v", "attn_k", "attn_q", "attn_output"):
        if f"{part}.weight" in name:
            return "attn_v" if part in ("attn_qkv", "attn_kv_b") else part
    for part in ("ffn_up", "ffn_gate", "ffn_down"):
        if part in name:
            return part
    return "other"


class _Counters:
    def __init__(self, names, n_layers: int):
        self.n_attn_v = sum(_category(n) == "attn_v" for n in names)
        self.n_layers = n_layers
        self.attn_v = self.ffn_down = 0


def _attn_v(ft: str, new: GGMLType, c: _Counters, n_gqa: int) -> GGMLType:
    if ft == "q2_k":
        return T.Q4_K if n_gqa >= 4 else T.Q3_K
    if ft == "q3_k_m":
        return T.Q5_K if c.attn_v < 2 else T.Q4_K
    if ft == "q3_k_l":
        return T.Q5_K
    if ft in ("q4_k_m", "q5_k_m") and use_more_bits(c.attn_v, c.n_attn_v):
        return T.Q6_K
    if ft == "q4_k_s" and c.attn_v < 4:
        return T.Q5_K
    return new


def _ffn_down(ft: str, new: GGMLType, i: int, n: int) -> GGMLType:
    if ft == "q2_k":
        return T.Q3_K
    if ft == "q3_k_m":
        return T.Q5_K if i < n // 16 else T.Q4_K
    if ft == "q3_k_l":
        return T.Q5_K
    if ft in ("q4_k_m", "q5_k_m") and use_more_bits(i, n):
        return T.Q6_K
    if ft == "q4_k_s" and i < n // 8:
        return T.Q5_K
    return new


def _mixture_type(ft: FileType, name: str, row: int, tied: bool, c: _Counters, n_gqa: int, is_70b: bool):
    """The type before the shape fallback (llama.cpp's `llama_tensor_get_type_impl`)."""
    category, new = _category(name), ft.base
    if category == "output" or (tied and category == "token_embd"):
        if row % LAYOUTS[new].block_size:
            return T.Q8_0
        return T.Q6_K if new is not T.Q8_0 else new
    if category == "attn_v":
        new = _attn_v(ft.name, new, c, n_gqa)
        if is_70b and new in (T.Q3_K, T.Q4_K):  # 8 query heads share each V head: cheap to protect
            new = T.Q5_K
        c.attn_v += 1
    elif category == "ffn_down":
        new = _ffn_down(ft.name, new, c.ffn_down, c.n_layers)
        c.ffn_down += 1
    elif category == "attn_output":
        new = {"q2_k": T.Q3_K, "q3_k_m": T.Q4_K, "q3_k_l": T.Q5_K}.get(ft.name, new)
    return new


def plan_types(
    tensors: dict[str, tuple[int, ...]],
    ftype: str,
    n_layers: int,
    n_heads: int,
    n_kv_heads: int,
    pure: bool = False,
) -> dict[str, GGMLType | None]:
    """name -> ggml type for every tensor (None: keep the stored type), walking them in llama.cpp's
    order. `tensors` maps names to NumPy-order shapes (the row length is the last dimension).
    `pure` skips the mixture rules (every matrix gets the base type; the shape fallback still applies)."""
    ft = file_type(ftype)
    names = llama_cpp_order(tensors)
    counters = _Counters(names, n_layers)
    tied = "output.weight" not in tensors
    n_gqa = n_heads // max(n_kv_heads, 1)
    is_70b = n_layers == 80 and n_heads != n_kv_heads  # llama.cpp's LLM_TYPE_70B for this architecture
    plan: dict[str, GGMLType | None] = {}
    for name in names:
        shape = tensors[name]
        if not quantizable(name, shape):
            plan[name] = None
        elif ft.base in PLAIN:
            plan[name] = ft.base
        else:
            new = ft.base if pure else _mixture_type(ft, name, shape[-1], tied, counters, n_gqa, is_70b)
            plan[name] = fallback(new, shape[-1])
    return plan
