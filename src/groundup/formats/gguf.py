"""GGUF reader: metadata, tensor table and zero-copy tensor views over a memory-mapped file.

A GGUF file (the llama.cpp model format, versions 2 and 3, little-endian) is laid out as

    magic "GGUF" | version u32 | tensor_count u64 | kv_count u64
    kv_count x  (key: string, value_type: u32, value)
    tensor_count x (name: string, n_dims: u32, dims: u64 x n_dims, ggml_type: u32, offset: u64)
    padding to `general.alignment` (default 32)
    tensor data; each tensor starts at data_start + offset (offset is a multiple of the alignment)

where a string is a u64 byte length then UTF-8 bytes, and an array value is an item type (u32), a
count (u64) and the items. `dims` are in ggml order (innermost first); `TensorInfo.shape` is the
NumPy order (outermost first), so `token_embd.weight` of SmolLM2 reads as (49152, 576).

The file is untrusted input: every count, length, dimension, type and offset is checked against
the bytes that remain before anything is allocated or sliced, and any violation raises
`GGUFError` naming the byte offset and the reason.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import numpy as np

from groundup.errors import GroundupError
from groundup.formats.ggml_types import LAYOUTS, GGMLType

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_ARRAY_DEPTH = 8  # nested arrays deeper than this are refused (no recursion bombs)


class GGUFError(GroundupError):
    """A malformed, truncated or unsupported GGUF file; `offset` is the byte where reading failed."""

    def __init__(self, offset: int, reason: str, path: str | os.PathLike | None = None):
        self.offset = offset
        self.reason = reason
        where = f"{path}: " if path is not None else ""
        super().__init__(f"{where}invalid GGUF at byte {offset}: {reason}")


class ValueType(IntEnum):
    """Metadata value types of the GGUF spec."""

    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12


# Fixed-size scalar types: struct format (little-endian) and the NumPy dtype used for arrays of them.
SCALARS: dict[ValueType, tuple[str, str]] = {
    ValueType.UINT8: ("<B", "<u1"),
    ValueType.INT8: ("<b", "<i1"),
    ValueType.UINT16: ("<H", "<u2"),
    ValueType.INT16: ("<h", "<i2"),
    ValueType.UINT32: ("<I", "<u4"),
    ValueType.INT32: ("<i", "<i4"),
    ValueType.FLOAT32: ("<f", "<f4"),
    ValueType.BOOL: ("<?", "<u1"),
    ValueType.UINT64: ("<Q", "<u8"),
    ValueType.INT64: ("<q", "<i8"),
    ValueType.FLOAT64: ("<d", "<f8"),
}
# The fewest bytes one item of each type can take: a bound for counts before reading them.
MIN_ITEM_BYTES = {t: struct.calcsize(f) for t, (f, _) in SCALARS.items()} | {
    ValueType.STRING: 8,
    ValueType.ARRAY: 12,
}


@dataclass(frozen=True)
class Field:
    """One metadata entry: its value as plain Python and the GGUF types needed to write it back."""

    name: str
    type: ValueType
    value: object
    item_type: ValueType | None = None  # for arrays: the element type (ARRAY for nested arrays)


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives: `shape` in NumPy order, `offset` absolute in the file."""

    name: str
    shape: tuple[int, ...]
    ggml_type: GGMLType
    offset: int
    n_bytes: int

    @property
    def n_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


class _Cursor:
    """Reads little-endian values from the mapped file, refusing to step past its end."""

    def __init__(self, data: np.ndarray, path):
        self.data = data
        self.size = len(data)
        self.pos = 0
        self.path = path

    def fail(self, reason: str, offset: int | None = None):
        raise GGUFError(self.pos if offset is None else offset, reason, self.path)

    def need(self, n_bytes: int, what: str) -> None:
        if n_bytes < 0 or self.pos + n_bytes > self.size:
            self.fail(
                f"{what} needs {n_bytes} bytes but only {self.size - self.pos} remain (truncated file?)"
            )

    def scalar(self, fmt: str, what: str):
        n = struct.calcsize(fmt)
        self.need(n, what)
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += n
        return value

    def u32(self, what: str) -> int:
        return self.scalar("<I", what)

    def u64(self, what: str) -> int:
        return self.scalar("<Q", what)

    def string(self, what: str) -> str:
        start = self.pos
        length = self.u64(f"{what} length")
        self.need(length, f"{what} of {length} bytes")
        raw = self.data[self.pos : self.pos + length].tobytes()
        self.pos += length
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.fail(f"{what} is not valid UTF-8 ({exc.reason})", start)

    def value_type(self, what: str) -> ValueType:
        start = self.pos
        raw = self.u32(what)
        try:
            return ValueType(raw)
        except ValueError:
            self.fail(f"{what} is {raw}, not a GGUF value type (0-12)", start)

    def value(self, vtype: ValueType, what: str, depth: int = 0):
        """One value of type `vtype`; arrays come back as (item_type, list)."""
        if vtype in SCALARS:
            return self.scalar(SCALARS[vtype][0], what)
        if vtype is ValueType.STRING:
            return self.string(what)
        if depth >= MAX_ARRAY_DEPTH:
            self.fail(f"{what} nests arrays deeper than {MAX_ARRAY_DEPTH} levels")
        item_type = self.value_type(f"{what} item type")
        count_at = self.pos
        count = self.u64(f"{what} count")
        remaining = self.size - self.pos
        if count * MIN_ITEM_BYTES[item_type] > remaining:
            self.fail(
                f"{what} claims {count} items of {item_type.name} but only {remaining} bytes remain", count_at
            )
        if item_type in SCALARS:
            fmt, dtype = SCALARS[item_type]
            items = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
            self.pos += items.nbytes
            values = items.astype(bool).tolist() if item_type is ValueType.BOOL else items.tolist()
            return item_type, values
        if item_type is ValueType.STRING:
            return item_type, [self.string(f"{what}[{i}]") for i in range(count)]
        return item_type, [self.value(ValueType.ARRAY, f"{what}[{i}]", depth + 1)[1] for i in range(count)]


class GGUFReader:
    """Parse a GGUF file's header; tensor data stays in the memory map until asked for.

    >>> r = GGUFReader(smollm2_gguf_path())          # doctest: +SKIP
    >>> r.metadata["llama.block_count"], r.tensors["token_embd.weight"].shape   # doctest: +SKIP
    (30, (49152, 576))
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        size = self.path.stat().st_size
        if size < 24:
            raise GGUFError(0, f"file has {size} bytes, too short for a GGUF header (24 bytes)", self.path)
        self._data = np.memmap(self.path, dtype=np.uint8, mode="r")
        cur = _Cursor(self._data, self.path)
        self._read_header(cur)
        self.fields: dict[str, Field] = {}
        for i in range(self._kv_count):
            self._read_field(cur, i)
        self.metadata: dict[str, object] = {name: f.value for name, f in self.fields.items()}
        self.alignment = self._alignment(cur)
        infos = [self._read_tensor_info(cur, i) for i in range(self._tensor_count)]
        self.data_offset = -(-cur.pos // self.alignment) * self.alignment
        self.tensors: dict[str, TensorInfo] = self._place_tensors(cur, infos)

    def _read_header(self, cur: _Cursor) -> None:
        magic = self._data[:4].tobytes()
        if magic != MAGIC:
            cur.fail(f"not a GGUF file: magic is {magic!r}, expected {MAGIC!r}")
        cur.pos = 4
        self.version = cur.u32("version")
        if self.version not in SUPPORTED_VERSIONS:
            hint = " (a big-endian file?)" if self.version.to_bytes(4, "little")[0] == 0 else ""
            cur.fail(f"GGUF version {self.version}{hint} is not supported; supported: 2, 3", 4)
        self._tensor_count = cur.u64("tensor count")
        self._kv_count = cur.u64("metadata count")
        remaining = cur.size - cur.pos
        if self._kv_count * (8 + 4 + 1) > remaining:
            cur.fail(f"metadata count {self._kv_count} cannot fit in the {remaining} bytes left", 16)
        if self._tensor_count * (8 + 4 + 8 + 4 + 8) > remaining:
            cur.fail(f"tensor count {self._tensor_count} cannot fit in the {remaining} bytes left", 8)

    def _read_field(self, cur: _Cursor, index: int) -> None:
        start = cur.pos
        name = cur.string(f"metadata key #{index}")
        vtype = cur.value_type(f"type of {name!r}")
        value = cur.value(vtype, repr(name))
        item_type = None
        if vtype is ValueType.ARRAY:
            item_type, value = value
        if name in self.fields:
            cur.fail(f"metadata key {name!r} appears twice", start)
        self.fields[name] = Field(name, vtype, value, item_type)

    def _alignment(self, cur: _Cursor) -> int:
        field = self.fields.get("general.alignment")
        if field is None:
            return DEFAULT_ALIGNMENT
        value = field.value
        if field.type is not ValueType.UINT32 or not 0 < value <= 1 << 16 or value & (value - 1):
            cur.fail(f"general.alignment must be a UINT32 power of two up to 65536, found {value!r}", 0)
        return value

    def _read_tensor_info(self, cur: _Cursor, index: int) -> tuple[int, str, tuple[int, ...], GGMLType, int]:
        start = cur.pos
        name = cur.string(f"tensor #{index} name")
        n_dims = cur.u32(f"tensor {name!r} dimension count")
        if not 1 <= n_dims <= MAX_DIMS:
            cur.fail(f"tensor {name!r} has {n_dims} dimensions; GGUF allows 1 to {MAX_DIMS}", cur.pos - 4)
        dims = tuple(cur.u64(f"tensor {name!r} dimension") for _ in range(n_dims))
        if any(d == 0 or d >= 1 << 40 for d in dims):
            cur.fail(f"tensor {name!r} has dimensions {dims}; each must be between 1 and 2**40", start)
        raw_type = cur.u32(f"tensor {name!r} type")
        try:
            ggml_type = GGMLType(raw_type)
        except ValueError:
            cur.fail(f"tensor {name!r} has unknown ggml type {raw_type}", cur.pos - 4)
        block = LAYOUTS[ggml_type].block_size
        if dims[0] % block:
            cur.fail(
                f"tensor {name!r} rows of {dims[0]} are not a multiple of the {ggml_type.name} block ({block})"
            )
        offset = cur.u64(f"tensor {name!r} offset")
        if offset % self.alignment:
            cur.fail(f"tensor {name!r} offset {offset} is not a multiple of the alignment {self.alignment}")
        return start, name, tuple(reversed(dims)), ggml_type, offset

    def _place_tensors(self, cur: _Cursor, infos) -> dict[str, TensorInfo]:
        """Check that every tensor lies inside the data section and that no two overlap."""
        tensors: dict[str, TensorInfo] = {}
        for start, name, shape, ggml_type, offset in infos:
            if name in tensors:
                cur.fail(f"tensor name {name!r} appears twice", start)
            n_elements = int(np.prod(shape, dtype=object))
            layout = LAYOUTS[ggml_type]
            n_bytes = n_elements // layout.block_size * layout.type_size
            begin = self.data_offset + offset
            if begin + n_bytes > cur.size:
                cur.fail(
                    f"tensor {name!r} ({n_bytes} bytes at {begin}) runs past the end of the file ({cur.size} bytes)",
                    start,
                )
            tensors[name] = TensorInfo(name, shape, ggml_type, begin, n_bytes)
        previous = None
        for info in sorted(tensors.values(), key=lambda t: t.offset):
            if previous is not None and info.offset < previous.offset + previous.n_bytes:
                cur.fail(f"tensors {previous.name!r} and {info.name!r} overlap", info.offset)
            previous = info
        return tensors

    def _info(self, name: str) -> TensorInfo:
        if name not in self.tensors:
            raise KeyError(f"no tensor {name!r} in {self.path.name}; it has {len(self.tensors)} tensors")
        return self.tensors[name]

    def tensor(self, name: str) -> np.ndarray:
        """The stored bytes as a read-only view: typed for plain types, (rows..., row_bytes) uint8 blocks
        for quantized ones (the layout `ggml_quants.dequantize` expects)."""
        from groundup.formats.ggml_quants import raw_view

        info = self._info(name)
        flat = self._data[info.offset : info.offset + info.n_bytes]
        return raw_view(flat, info.ggml_type, info.shape)

    def dequantize(self, name: str) -> np.ndarray:
        """The tensor as float32 in NumPy shape order."""
        from groundup.formats.ggml_quants import dequantize

        info = self._info(name)
        return dequantize(self.tensor(name), info.ggml_type).reshape(info.shape)

    def close(self) -> None:
        """Drop the memory map (views taken from it keep it alive until they are released)."""
        self._data = None

    def __enter__(self) -> GGUFReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
