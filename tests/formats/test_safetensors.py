"""Our safetensors reader/writer against the reference `safetensors` package, and hostile headers."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from groundup.formats.safetensors import SafetensorsError, SafetensorsFile, save_file

torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")
st_numpy = pytest.importorskip("safetensors.numpy")
pytestmark = pytest.mark.module("1.4")


def test_reads_what_the_reference_writes_bfloat16_included(tmp_path):
    torch.manual_seed(0)
    tensors = {
        "bf16": torch.randn(3, 5, dtype=torch.bfloat16),
        "f16": torch.randn(4, dtype=torch.float16),
        "f32": torch.randn(2, 2, 3),
        "i64": torch.arange(6).reshape(2, 3),
        "empty": torch.zeros(0, 4),
    }
    path = tmp_path / "ref.safetensors"
    st_torch.save_file(tensors, path, metadata={"format": "pt"})
    ours = SafetensorsFile(path)
    assert ours.metadata == {"format": "pt"}
    assert ours.shapes == {name: tuple(t.shape) for name, t in tensors.items()}
    for name, t in tensors.items():
        np.testing.assert_array_equal(ours.get(name), t.float().numpy() if name == "bf16" else t.numpy())
    assert ours.get("bf16").dtype == np.float32


def test_the_reference_reads_what_we_write(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {"w": rng.standard_normal((3, 4)).astype(np.float32), "h": np.arange(5, dtype=np.float16)}
    path = save_file(tensors, tmp_path / "ours.safetensors", metadata={"format": "pt"})
    back = st_numpy.load_file(path)
    assert back.keys() == tensors.keys()
    for name, a in tensors.items():
        np.testing.assert_array_equal(back[name], a)
    with pytest.raises(ValueError, match="'c' has dtype complex64"):
        save_file({"c": np.zeros(2, np.complex64)}, tmp_path / "bad.safetensors")


def write_raw(path, header: dict | bytes, data: bytes = b"", size: int | None = None):
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw) if size is None else size) + raw + data)
    return path


@pytest.mark.parametrize(
    ("header", "data", "size", "message"),
    [
        ({}, b"", 10**12, "header claims"),
        (b"{not json", b"", None, "not valid JSON"),
        (b"[1, 2]", b"", None, "not a JSON object"),
        ({"a": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}}, b"x", None, "dtype"),
        ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"xxxx", None, "shape"),
        ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"xxxx", None, "data_offsets"),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"xxxxxxxx", None, "data_offsets"),
        (
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
            },
            b"x" * 12,
            None,
            "overlap",
        ),
    ],
)
def test_hostile_headers(tmp_path, header, data, size, message):
    path = write_raw(tmp_path / "bad.safetensors", header, data, size)
    with pytest.raises(SafetensorsError, match=message):
        SafetensorsFile(path)


def test_too_short(tmp_path):
    (tmp_path / "tiny.safetensors").write_bytes(b"abc")
    with pytest.raises(SafetensorsError, match="too short"):
        SafetensorsFile(tmp_path / "tiny.safetensors")
