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
