"""safetensors, Hugging Face's checkpoint format: read (memory-mapped, bfloat16 included) and write.

    header_size u64 | header: JSON, header_size bytes | tensor data
    header = {"name": {"dtype": "BF16", "shape": [576, 1536], "data_offsets": [begin, end]}, ...,
              "__metadata__": {"format": "pt"}}      (offsets relative to the end of the header)

NumPy has no bfloat16 (the dtype most checkpoints use), which is why `safetensors.numpy` cannot read
them; here a BF16 tensor is widened to float32 by a 16-bit shift (exact). The file is untrusted:
the header size, every dtype, shape and extent is checked before a view is made, and tensors may not
overlap. Writing is atomic (see `gguf_writer.atomic_output`).
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np

from groundup.errors import GroundupError
from groundup.formats.gguf_writer import atomic_output

DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "BF16": np.uint16,  # widened on read
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}
NAMES = {np.dtype(v): k for k, v in DTYPES.items() if k != "BF16"}
MAX_HEADER = 100 << 20  # the reference implementation's limit


class SafetensorsError(GroundupError):
    """A malformed or truncated safetensors file."""


class SafetensorsFile:
    """The tensors of one .safetensors file: `shapes` from the header, `get(name)` as NumPy (float32 for
    BF16), without reading the data until asked."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        size = self.path.stat().st_size
        if size < 8:
            self._fail(f"file has {size} bytes, too short for the 8-byte header size")
        self._data = np.memmap(self.path, dtype=np.uint8, mode="r")
        (n,) = struct.unpack("<Q", self._data[:8].tobytes())
        if n > min(MAX_HEADER, size - 8):
            self._fail(f"header claims {n} bytes but the file has {size - 8} after the size field")
        try:
            header = json.loads(self._data[8 : 8 + n].tobytes())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._fail(f"header is not valid JSON ({exc})")
        if not isinstance(header, dict):
            self._fail("header is not a JSON object")
        self.metadata: dict[str, str] = header.pop("__metadata__", None) or {}
        self._start = 8 + n
        self._entries = {name: self._check(name, entry, size - self._start) for name, entry in header.items()}
        self._check_overlaps()
        self.shapes = {name: shape for name, (_, shape, _, _) in self._entries.items()}

    def _fail(self, reason: str):
        raise SafetensorsError(f"{self.path}: invalid safetensors file: {reason}")

    def _check(self, name, entry, data_size):
        if not isinstance(entry, dict) or entry.get("dtype") not in DTYPES:
            self._fail(
                f"tensor {name!r} has dtype {entry.get('dtype') if isinstance(entry, dict) else entry!r}"
            )
        shape, offsets = entry.get("shape"), entry.get("data_offsets")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            self._fail(f"tensor {name!r} has shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            self._fail(f"tensor {name!r} has data_offsets {offsets!r}")
        begin, end = offsets
        dtype = entry["dtype"]
        expected = int(np.prod(shape, dtype=object)) * np.dtype(DTYPES[dtype]).itemsize
        if not 0 <= begin <= end <= data_size or end - begin != expected:
            self._fail(
                f"tensor {name!r} ({dtype} {shape}: {expected} bytes) has data_offsets {offsets} "
                f"in a data section of {data_size} bytes"
            )
        return dtype, tuple(shape), begin, end

    def _check_overlaps(self):
        previous = None
        for name, (_, _, begin, end) in sorted(self._entries.items(), key=lambda kv: kv[1][2:]):
            if previous is not None and begin < previous[1] and end > begin:
                self._fail(f"tensors {previous[0]!r} and {name!r} overlap")
            previous = (name, end)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def get(self, name: str) -> np.ndarray:
        """The tensor as a read-only array (a view of the file, except BF16, which becomes float32)."""
        if name not in self._entries:
            raise KeyError(f"no tensor {name!r} in {self.path.name}")
        dtype, shape, begin, end = self._entries[name]
        raw = self._data[self._start + begin : self._start + end]
        values = raw.view(DTYPES[dtype]).reshape(shape)
        if dtype == "BF16":
            return (values.astype(np.uint32) << 16).view(np.float32)
        return values


def save_file(
    tensors: dict[str, np.ndarray], path: str | os.PathLike, metadata: dict[str, str] | None = None
):
    """Write `tensors` (NumPy arrays of the DTYPES above, BF16 excepted) to `path`, in the given order."""
    header, offset = {}, 0
    arrays = {name: np.ascontiguousarray(a) for name, a in tensors.items()}
    for name, a in arrays.items():
        if a.dtype not in NAMES:
            raise ValueError(f"tensors: {name!r} has dtype {a.dtype}, which safetensors cannot store")
        header[name] = {
            "dtype": NAMES[a.dtype],
            "shape": list(a.shape),
            "data_offsets": [offset, offset + a.nbytes],
        }
        offset += a.nbytes
    if metadata:
        header = {"__metadata__": dict(metadata), **header}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the reference pads the header so the data starts 8-byte aligned
    with atomic_output(Path(path)) as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for a in arrays.values():
            f.write(a.tobytes())
    return Path(path)
