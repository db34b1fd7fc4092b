"""Re-quantize a GGUF model: dequantize every tensor to float32, store its matrices in a new type.

Matrices (2 or more dimensions whose rows split into whole blocks) take the target type; vectors
such as norm weights stay float32, as llama.cpp's converter keeps them. Metadata is copied with its
GGUF types, and `general.file_type` is updated to the new llama.cpp file type.
"""

from __future__ import annotations

import os
from pathlib import Path

from tqdm import tqdm

from groundup.formats.ggml_quants import quantize
from groundup.formats.ggml_types import LAYOUTS, GGMLType
from groundup.formats.gguf import GGUFReader, ValueType
from groundup.formats.gguf_writer import GGUFWriter

# llama.cpp's `llama_ftype` for files whose matrices are all one type
FILE_TYPES = {GGMLType.F32: 0, GGMLType.F16: 1, GGMLType.Q4_0: 2, GGMLType.Q4_1: 3, GGMLType.Q8_0: 7}


def convert(src: str | os.PathLike, dst: str | os.PathLike, ggml_type: GGMLType | str) -> Path:
    """Write `dst`: the model in `src` with its matrices re-quantized to `ggml_type`."""
    ggml_type = GGMLType[ggml_type.upper()] if isinstance(ggml_type, str) else GGMLType(ggml_type)
    if ggml_type not in FILE_TYPES:
        names = ", ".join(t.name.lower() for t in FILE_TYPES)
        raise ValueError(f"type: cannot convert to {ggml_type.name}; supported: {names}")
    reader = GGUFReader(src)
    writer = GGUFWriter(dst, alignment=reader.alignment)
    for field in reader.fields.values():
        writer.add_field(field.name, field.value, field.type, field.item_type)
    writer.add_field("general.file_type", FILE_TYPES[ggml_type], ValueType.UINT32)
    block = LAYOUTS[ggml_type].block_size
    tensors = tqdm(
        reader.tensors.items(), "converting", len(reader.tensors), leave=False, disable=None, unit="tensor"
    )
    for name, info in tensors:  # a bar on a terminal: SmolLM2 takes ~20 s
        weights = reader.dequantize(name)
        target = ggml_type if len(info.shape) >= 2 and info.shape[-1] % block == 0 else GGMLType.F32
        writer.add_tensor(name, quantize(weights, target), target, info.shape)
    return writer.write()
