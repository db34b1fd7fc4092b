"""GGUF writer: metadata and tensors in, a file that llama.cpp's `gguf` reader reads back out.

The writer collects everything first and writes in the one order the format allows (header, metadata,
tensor infos, padding, aligned tensor data), so a half-built file cannot be produced by calling
methods in the wrong order, and writes it atomically (a failed or interrupted write leaves no file). Values keep their GGUF types when they come from a reader's `fields`;
plain Python values get a type inferred (bool, int -> INT32 or INT64, float -> FLOAT32, str, list).
"""

from __future__ import annotations

import os
import struct
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from groundup.formats.ggml_types import LAYOUTS, GGMLType
from groundup.formats.gguf import DEFAULT_ALIGNMENT, MAGIC, SCALARS, Field, ValueType


@dataclass(frozen=True)
class _Tensor:
    name: str
    shape: tuple[int, ...]  # NumPy order
    ggml_type: GGMLType
    data: bytes


def infer_type(value) -> ValueType:
    if isinstance(value, bool):
        return ValueType.BOOL
    if isinstance(value, int):
        return ValueType.INT32 if -(2**31) <= value < 2**31 else ValueType.INT64
    if isinstance(value, float):
        return ValueType.FLOAT32
    if isinstance(value, str):
        return ValueType.STRING
    if isinstance(value, list | tuple):
        return ValueType.ARRAY
    raise TypeError(f"value: cannot store {type(value).__name__} in GGUF metadata")


def _pack_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def _pack_value(vtype: ValueType, value, item_type: ValueType | None = None) -> bytes:
    if vtype in SCALARS:
        return struct.pack(SCALARS[vtype][0], value)
    if vtype is ValueType.STRING:
        return _pack_string(value)
    items = list(value)
    if item_type is None:
        item_type = infer_type(items[0]) if items else ValueType.INT32
    head = struct.pack("<IQ", item_type, len(items))
    if item_type in SCALARS:
        return head + np.asarray(items, dtype=SCALARS[item_type][1]).tobytes()
    return head + b"".join(_pack_value(item_type, item) for item in items)


class GGUFWriter:
    """Collect fields and tensors, then `write()` them to `path` (GGUF version 3, little-endian)."""

    def __init__(self, path: str | os.PathLike, alignment: int = DEFAULT_ALIGNMENT):
        if alignment <= 0 or alignment & (alignment - 1):
            raise ValueError(f"alignment must be a positive power of two, got {alignment}")
        self.path = Path(path)
        self.alignment = alignment
        self.fields: dict[str, Field] = {}
        self.tensors: dict[str, _Tensor] = {}
        if alignment != DEFAULT_ALIGNMENT:
            self.add_field("general.alignment", alignment, ValueType.UINT32)

    def add_field(self, name: str, value, vtype: ValueType | None = None, item_type: ValueType | None = None):
        vtype = infer_type(value) if vtype is None else ValueType(vtype)
        self.fields[name] = Field(name, vtype, value, item_type)

    def add_tensor(self, name: str, data: np.ndarray, ggml_type: GGMLType, shape: tuple[int, ...]) -> None:
        """`data` is the stored form (e.g. from `ggml_quants.quantize`); `shape` the NumPy-order shape."""
        ggml_type = GGMLType(ggml_type)
        layout = LAYOUTS[ggml_type]
        expected = int(np.prod(shape)) // layout.block_size * layout.type_size
        raw = np.ascontiguousarray(data).tobytes()
        if len(raw) != expected or shape[-1] % layout.block_size:
            raise ValueError(
                f"data: tensor {name!r} of shape {shape} as {ggml_type.name} needs {expected} bytes, got {len(raw)}"
            )
        if name in self.tensors:
            raise ValueError(f"name: tensor {name!r} was already added")
        self.tensors[name] = _Tensor(name, tuple(shape), ggml_type, raw)

    def _pad(self, n: int) -> int:
        return -n % self.alignment

    def write(self) -> Path:
        header = [MAGIC, struct.pack("<IQQ", 3, len(self.tensors), len(self.fields))]
        for field in self.fields.values():
            header += [_pack_string(field.name), struct.pack("<I", field.type)]
            header.append(_pack_value(field.type, field.value, field.item_type))
        offset = 0
        for t in self.tensors.values():
            dims = tuple(reversed(t.shape))  # ggml order: innermost first
            header += [
                _pack_string(t.name),
                struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims, t.ggml_type, offset),
            ]
            offset += len(t.data) + self._pad(len(t.data))
        head = b"".join(header)
        with atomic_output(self.path) as f:
            f.write(head + b"\0" * self._pad(len(head)))
            for t in self.tensors.values():
                f.write(t.data + b"\0" * self._pad(len(t.data)))
        return self.path


@contextmanager
def atomic_output(path: Path):
    """A binary file that appears at `path` only once it is complete: written next to it under a
    temporary name and renamed, removed instead if anything (an error, Ctrl-C) interrupts the write."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            yield f
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
