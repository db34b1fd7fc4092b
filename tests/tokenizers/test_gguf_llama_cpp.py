"""The SmolLM2 tokenizer against llama.cpp's own `llama-tokenize`, when a build is available.

Set GROUNDUP_LLAMA_TOKENIZE to the binary (built from llama.cpp, e.g. the copy vendored in the
llama-cpp-python sdist: `cmake -B build && ninja -C build llama-tokenize`); without it these tests
skip. llama.cpp reads the same GGUF with `vocab_only`, splits with its "smollm" rule and parses
special tokens, so it must agree with us exactly, except on bytes the vocabulary has no token for
(see gguf.py): those texts are left out.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groundup.data import smollm2_gguf_path

# An optional peer (a llama-tokenize binary built by hand): outside the default suite.
pytestmark = [pytest.mark.module("3.2"), pytest.mark.slow]


@pytest.fixture(scope="module")
def llama_tokenize():
    binary = os.environ.get("GROUNDUP_LLAMA_TOKENIZE")
    if not binary or not os.access(binary, os.X_OK):
        pytest.skip("set GROUNDUP_LLAMA_TOKENIZE to a llama-tokenize binary to compare with llama.cpp")

    def run(text: str) -> list[int]:
        out = subprocess.run(
            [binary, "-m", str(smollm2_gguf_path()), "--stdin", "--ids", "--no-escape", "--log-disable"],
            input=text.encode("utf-8"),
            capture_output=True,
            check=True,
        )
        return json.loads(out.stdout.decode().strip().splitlines()[-1])  # "[1, 2, 3]"

    return run


def without_untokenized_bytes(smollm2, text: str) -> str:
    """Drop characters whose UTF-8 holds a byte with no token (0x04, 0xf1, ...)."""
    missing = {b for b in range(256) if smollm2._byte_ids[b] is None}
    return "".join(c for c in text if not missing & set(c.encode("utf-8")))


@pytest.mark.parametrize("name", ["wikitext2-test", "tinyshakespeare"])
def test_corpus_ids_equal_llama_cpp(smollm2, llama_tokenize, corpora, name):
    text = corpora[name]
    assert smollm2.encode(text) == llama_tokenize(text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_arbitrary_text_equals_llama_cpp(smollm2, llama_tokenize, text_strategy, data):
    text = without_untokenized_bytes(smollm2, data.draw(text_strategy))
    assert smollm2.encode(text) == llama_tokenize(text)
