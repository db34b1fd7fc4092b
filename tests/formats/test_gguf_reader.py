"""GGUF reader and writer against the reference `gguf` package, and safety on hostile files."""

from __future__ import annotations

import argparse
import struct
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groundup.commands import formats as formats_cli
from groundup.formats import GGMLType, GGUFError, GGUFReader, ValueType
from groundup.formats.convert import convert
from groundup.formats.ggml_quants import quantize
from groundup.formats.gguf_writer import GGUFWriter

gguf = pytest.importorskip("gguf")
pytestmark = pytest.mark.module("1.4")


def test_metadata_equals_reference(our_reader, ref_reader):
    assert set(our_reader.metadata) == {k for k in ref_reader.fields if not k.startswith("GGUF.")}
    for name, field in ref_reader.fields.items():
        if name.startswith("GGUF."):
            continue
        ours = our_reader.metadata[name]
        ref = field.contents()
        if isinstance(ref, float):
            assert ours == pytest.approx(ref, rel=0, abs=0), name
        else:
            assert ours == ref, name
        assert our_reader.fields[name].type == ValueType(int(field.types[0]))


def test_tensor_table_and_raw_views_equal_reference(our_reader, ref_reader):
    assert list(our_reader.tensors) == [t.name for t in ref_reader.tensors]
    for t in ref_reader.tensors:
        info = our_reader.tensors[t.name]
        assert info.shape == tuple(int(d) for d in reversed(t.shape))
        assert int(info.ggml_type) == int(t.tensor_type) and info.n_bytes == t.n_bytes
        assert info.offset == t.data_offset
        raw = our_reader.tensor(t.name)
        assert not raw.flags.writeable  # zero-copy view of the read-only map
        np.testing.assert_array_equal(raw.view(np.uint8).ravel(), np.asarray(t.data).view(np.uint8).ravel())


def test_written_file_reads_back_in_reference(tmp_path):
    path = tmp_path / "tiny.gguf"
    rng = np.random.default_rng(0)
    w = GGUFWriter(path, alignment=64)
    w.add_field("general.architecture", "llama")
    w.add_field("tiny.count", 7, ValueType.UINT64)
    w.add_field("tiny.flag", True)
    w.add_field("tiny.scale", 0.5)
    w.add_field("tiny.words", ["a", "bé", ""])
    w.add_field("tiny.nested", [[1, 2], [3]], ValueType.ARRAY, ValueType.ARRAY)
    tensors = {
        "w.f32": (rng.standard_normal((3, 5)).astype(np.float32), GGMLType.F32),
        "w.f16": (rng.standard_normal((4, 8)).astype(np.float32), GGMLType.F16),
        "w.q8": (rng.standard_normal((2, 64)).astype(np.float32), GGMLType.Q8_0),
        "w.q4": (rng.standard_normal((3, 32)).astype(np.float32), GGMLType.Q4_0),
    }
    for name, (x, t) in tensors.items():
        w.add_tensor(name, quantize(x, t), t, x.shape)
    w.write()

    ref = gguf.GGUFReader(path)
    assert ref.fields["general.alignment"].contents() == 64
    assert ref.fields["tiny.words"].contents() == ["a", "bé", ""]
    assert ref.fields["tiny.count"].contents() == 7
    ours = GGUFReader(path)
    assert ours.metadata["tiny.nested"] == [[1, 2], [3]]
    for t in ref.tensors:
        x, qtype = tensors[t.name]
        assert int(t.tensor_type) == int(qtype)
        assert t.data_offset % 64 == 0
        np.testing.assert_array_equal(
            np.asarray(t.data).view(np.uint8).ravel(), quantize(x, qtype).view(np.uint8).ravel()
        )
        ref_f32 = gguf.quants.dequantize(t.data, t.tensor_type).reshape(x.shape)
        np.testing.assert_array_equal(ours.dequantize(t.name), ref_f32)


@pytest.mark.slow
def test_convert_smollm2_to_q8_0_reads_back(tmp_path, smollm2_path):
    out = convert(smollm2_path, tmp_path / "q8.gguf", "q8_0")
    ref = gguf.GGUFReader(out)
    types = {t.name: t.tensor_type.name for t in ref.tensors}
    assert types["blk.0.attn_q.weight"] == "Q8_0" and types["blk.0.attn_norm.weight"] == "F32"
    assert ref.fields["general.file_type"].contents() == 7


def cli_main(argv: list[str]) -> int:
    """Our `groundup gguf ...` commands through their own parser (independent of other areas' CLIs)."""
    parser = argparse.ArgumentParser(prog="groundup")
    formats_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_info_and_convert(tmp_path, capsys):
    src = tmp_path / "small.gguf"
    w = GGUFWriter(src)
    w.add_field("general.architecture", "llama")
    w.add_tensor("a.weight", quantize(np.ones((2, 32), np.float32), GGMLType.Q4_1), GGMLType.Q4_1, (2, 32))
    w.add_tensor("a.norm", np.ones(32, np.float32), GGMLType.F32, (32,))
    w.write()
    assert cli_main(["gguf", "convert", str(src), str(tmp_path / "out.gguf"), "--type", "q8_0"]) == 0
    assert cli_main(["gguf", "info", str(tmp_path / "out.gguf")]) == 0
    out = capsys.readouterr().out
    assert "a.weight" in out and "Q8_0" in out and "general.file_type" in out
    ref = gguf.GGUFReader(tmp_path / "out.gguf")
    expected = gguf.quants.quantize(np.ones((2, 32), np.float32), gguf.GGMLQuantizationType.Q8_0)
    np.testing.assert_array_equal(np.asarray(ref.tensors[0].data).view(np.uint8), expected)


# ---------------------------------------------------------------- untrusted input


def header(tensor_count: int, kv_count: int, version: int = 3) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, tensor_count, kv_count)


def gstr(s: bytes) -> bytes:
    return struct.pack("<Q", len(s)) + s


def tensor_info(name: bytes, dims, ggml_type: int, offset: int) -> bytes:
    return gstr(name) + struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims, ggml_type, offset)


HOSTILE = {
    "empty": b"",
    "not gguf": b"PK\x03\x04" + b"\0" * 40,
    "version 1": header(0, 0, version=1),
    "big-endian": b"GGUF" + struct.pack(">IQQ", 3, 0, 0),
    "huge kv count": header(0, 2**62),
    "huge tensor count": header(2**40, 0),
    "huge string length": header(0, 1) + struct.pack("<Q", 2**63) + b"k",
    "bad value type": header(0, 1) + gstr(b"k") + struct.pack("<I", 99) + b"\0" * 8,
    "huge array": header(0, 1) + gstr(b"k") + struct.pack("<IIQ", 9, 4, 2**60),
    "array of arrays bomb": header(0, 1)
    + gstr(b"k")
    + struct.pack("<IIQ", 9, 9, 1)
    + struct.pack("<IQ", 9, 1) * 40,
    "bad utf-8 key": header(0, 1) + gstr(b"\xff\xfe") + struct.pack("<IB", 0, 1),
    "duplicate key": header(0, 2) + (gstr(b"k") + struct.pack("<IB", 0, 1)) * 2,
    "bad alignment": header(0, 1) + gstr(b"general.alignment") + struct.pack("<II", 4, 3),
    "too many dims": header(1, 0) + gstr(b"t") + struct.pack("<I", 9) + b"\0" * 64,
    "zero dim": header(1, 0) + tensor_info(b"t", (0,), 0, 0),
    "bad ggml type": header(1, 0) + tensor_info(b"t", (4,), 77, 0),
    "ragged blocks": header(1, 0) + tensor_info(b"t", (33,), 8, 0),
    "offset past eof": header(1, 0) + tensor_info(b"t", (4,), 0, 2**40) + b"\0" * 64,
    "misaligned offset": header(1, 0) + tensor_info(b"t", (4,), 0, 3) + b"\0" * 64,
    "huge dims": header(1, 0) + tensor_info(b"t", (2**32, 2**32), 0, 0) + b"\0" * 64,
    "overlap": header(2, 0) + tensor_info(b"a", (16,), 0, 0) + tensor_info(b"b", (16,), 0, 32) + b"\0" * 200,
    "duplicate tensor": header(2, 0)
    + tensor_info(b"a", (4,), 0, 0)
    + tensor_info(b"a", (4,), 0, 32)
    + b"\0" * 200,
    "truncated": header(0, 1) + gstr(b"key"),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_files_raise_gguf_error(tmp_path, case):
    path = tmp_path / "bad.gguf"
    path.write_bytes(HOSTILE[case])
    start = time.perf_counter()
    with pytest.raises(GGUFError, match=r"invalid GGUF at byte \d+") as info:
        GGUFReader(path)
    assert time.perf_counter() - start < 5  # generous on a loaded machine; the point is "no hang"
    assert 0 <= info.value.offset <= max(len(HOSTILE[case]), 1)


def test_not_gguf_message_names_what_was_found(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"PK\x03\x04" + b"\0" * 40)
    with pytest.raises(GGUFError, match=r"not a GGUF file: magic is b'PK\\x03\\x04', expected b'GGUF'"):
        GGUFReader(path)


@pytest.fixture(scope="module")
def header_bytes(smollm2_path):
    """The real file's header and first tensor bytes: mutations land in parsed structures."""
    with open(smollm2_path, "rb") as f:
        return f.read(1_900_000)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_real_header_never_crashes(tmp_path_factory, header_bytes, data):
    """Flip, overwrite or cut bytes of the real header: the reader parses or raises GGUFError, fast."""
    buf = bytearray(header_bytes)
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.sampled_from(["start", "kv", "anywhere"]))
        hi = {"start": 24, "kv": 4096, "anywhere": len(buf)}[where]
        pos = data.draw(st.integers(0, hi - 1))
        width = data.draw(st.sampled_from([1, 4, 8]))
        value = data.draw(st.sampled_from([0, 0xFF, 0x7F, 0x80, data.draw(st.integers(0, 255))]))
        buf[pos : pos + width] = bytes([value]) * width
    if data.draw(st.booleans()):
        buf = buf[: data.draw(st.integers(0, len(buf)))]
    path = tmp_path_factory.mktemp("mut") / "m.gguf"
    path.write_bytes(bytes(buf))
    start = time.perf_counter()
    try:
        reader = GGUFReader(path)
    except GGUFError:
        pass
    else:
        for name in list(reader.tensors)[:3]:
            reader.tensor(name)
    assert time.perf_counter() - start < 5
