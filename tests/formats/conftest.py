"""Fixtures for the format tests: the bundled SmolLM2 GGUF and the reference reader over it."""

from __future__ import annotations

import pytest

from groundup.data import smollm2_gguf_path
from groundup.formats import GGUFReader


@pytest.fixture(scope="session")
def smollm2_path():
    return smollm2_gguf_path()


@pytest.fixture(scope="session")
def our_reader(smollm2_path):
    return GGUFReader(smollm2_path)


@pytest.fixture(scope="session")
def ref_reader(smollm2_path):
    gguf = pytest.importorskip("gguf")
    return gguf.GGUFReader(smollm2_path)


# ---------------------------------------------------------------- llama.cpp's own quantizer (ggml)


def _ggml_base_library():
    """ggml's base library as built by llama-cpp-python (holds the reference quantizers), or None."""
    import ctypes
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        return None
    found = sorted((Path(spec.origin).parent / "lib").glob("libggml-base.so*")) + sorted(
        (Path(spec.origin).parent / "lib").glob("libggml-base.dylib")
    )
    if not found:
        return None
    lib = ctypes.CDLL(str(found[0]))
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [
        ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
        ctypes.c_void_p,
    ]  # fmt: skip
    return lib


@pytest.fixture(scope="session")
def ggml_quantize():
    """`ggml_quantize(x (rows, n) float32, ggml_type) -> (rows, row bytes) uint8` by llama.cpp's own
    ggml_quantize_chunk (what `llama-quantize` calls); skips without llama-cpp-python."""
    import numpy as np

    from groundup.formats.ggml_types import LAYOUTS

    lib = _ggml_base_library()
    if lib is None:
        pytest.skip("llama-cpp-python is not installed (pip install --no-deps llama-cpp-python)")

    def run(x, ggml_type):
        x = np.ascontiguousarray(x, dtype=np.float32)
        rows, n = x.shape
        layout = LAYOUTS[ggml_type]
        out = np.zeros((rows, n // layout.block_size * layout.type_size), np.uint8)
        lib.ggml_quantize_chunk(int(ggml_type), x.ctypes.data, out.ctypes.data, 0, rows, n, None)
        return out

    return run
