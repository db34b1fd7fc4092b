"""Re-quantize a GGUF model to one of llama.cpp's file types, as llama.cpp's `quantize` does.

Every tensor gets the type `mixtures.plan_types` chooses (the file type's mixture rules and the shape
fallback); a tensor whose type does not change, or that is never quantized (norms), is copied byte for
byte, the others are dequantized to float32 and quantized again. The file is laid out like llama.cpp's
output: the source's metadata, then `general.quantization_version` and `general.file_type` moved to
the end; with `order="llama.cpp"` the tensors also come in llama.cpp's order, and from the same
float32 input the result is the same file, byte for byte (tests/formats/test_llama_cpp.py).

`write_model` is the part shared with the Hugging Face converter (`convert_hf.py`): metadata and
tensors from any source in, a GGUF of the chosen file type out.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from groundup.formats.ggml_quants import quantize
from groundup.formats.ggml_types import GGMLType
from groundup.formats.gguf import DEFAULT_ALIGNMENT, Field, GGUFReader, ValueType
from groundup.formats.gguf_writer import GGUFWriter
from groundup.formats.mixtures import file_type, plan_types

QUANTIZATION_VERSION = 2  # ggml's GGML_QNT_VERSION: the block layouts written here
ORDERS = ("source", "llama.cpp")


@dataclass(frozen=True)
class TensorSource:
    """One tensor to write: its stored form (`raw`, of type `ggml_type`) and its float32 values."""

    shape: tuple[int, ...]
    ggml_type: GGMLType
    raw: Callable[[], np.ndarray]
    floats: Callable[[], np.ndarray]


def model_shape(metadata: dict) -> tuple[int, int, int]:
    """(layers, heads, kv heads) from a GGUF's `<arch>.*` keys (0 where absent: not a transformer)."""
    arch = metadata.get("general.architecture", "llama")
    heads = metadata.get(f"{arch}.attention.head_count", 0)
    heads = heads[0] if isinstance(heads, list) else heads
    kv = metadata.get(f"{arch}.attention.head_count_kv", heads)
    kv = kv[0] if isinstance(kv, list) else kv
    return metadata.get(f"{arch}.block_count", 0), heads, kv


def write_model(
    dst: str | os.PathLike,
    fields: list[Field],
    tensors: dict[str, TensorSource],
    ftype: str,
    pure: bool = False,
    order: str = "source",
    alignment: int = DEFAULT_ALIGNMENT,
) -> Path:
    """Write a GGUF of llama.cpp file type `ftype`: `fields` (then quantization version and file
    type), and every tensor in the type `plan_types` gives it, in `tensors`' order or llama.cpp's."""
    if order not in ORDERS:
        raise ValueError(f"order: expected one of {ORDERS}, got {order!r}")
    ft = file_type(ftype)
    metadata = {f.name: f.value for f in fields}
    n_layers, n_heads, n_kv = model_shape(metadata)
    plan = plan_types({n: t.shape for n, t in tensors.items()}, ft.name, n_layers, n_heads, n_kv, pure)
    writer = GGUFWriter(dst, alignment=alignment)
    for f in fields:
        if f.name not in ("general.quantization_version", "general.file_type"):
            writer.add_field(f.name, f.value, f.type, f.item_type)
    writer.add_field("general.quantization_version", QUANTIZATION_VERSION, ValueType.UINT32)
    writer.add_field("general.file_type", ft.ftype, ValueType.UINT32)
    names = list(plan if order == "llama.cpp" else tensors)
    for name in tqdm(names, "converting", leave=False, disable=None, unit="tensor"):  # SmolLM2: ~20 s
        source, target = tensors[name], plan[name]
        if target is None or target is source.ggml_type:
            writer.add_tensor(name, source.raw(), source.ggml_type, source.shape)
        else:
            writer.add_tensor(name, quantize(source.floats(), target), target, source.shape)
    return writer.write()


def gguf_sources(reader: GGUFReader) -> dict[str, TensorSource]:
    """The tensors of a GGUF file, read when asked for."""
    return {
        name: TensorSource(
            info.shape, info.ggml_type, lambda n=name: reader.tensor(n), lambda n=name: reader.dequantize(n)
        )
        for name, info in reader.tensors.items()
    }


def convert(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    ftype: str = "q8_0",
    pure: bool = False,
    order: str = "source",
) -> Path:
    """Write `dst`: the model in `src` as llama.cpp file type `ftype` (e.g. "q4_k_m", "q8_0", "f16").
    `pure` gives every matrix the base type (llama.cpp's --pure), still with the shape fallback.
    `order`: "source" keeps the tensors in the source file's order, "llama.cpp" writes them in the order
    llama.cpp's quantizer does (by layer, then name), for a file identical to its output."""
    reader = GGUFReader(src)
    fields = list(reader.fields.values())
    return write_model(dst, fields, gguf_sources(reader), ftype, pure, order, reader.alignment)
