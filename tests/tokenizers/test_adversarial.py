"""Hostile inputs (long runs of spaces, newlines, CJK, one huge word, emoji ZWJ sequences, punctuation,
special-token look-alikes) give the references' ids, and the chunk cache stays bounded.

The inputs are the benchmark's (`benchmarks/bench_tokenizers_adversarial.py`) at a few KB, so these
tests stay fast; that the work grows linearly is counted in `test_merge.py`.
"""

from __future__ import annotations

import copy

import pytest

from benchmarks.bench_tokenizers_adversarial import adversarial_inputs
from groundup.tokenizers import BasicBPE, RegexBPE
from groundup.tokenizers.cache import ChunkCache

pytestmark = pytest.mark.module("3.2")

INPUTS = adversarial_inputs(6000) | {
    "mixed whitespace": (" \t\n\r\u3000\xa0" * 1000),
    "spaces then word": " " * 5000 + "word",
    "digits": "7" * 5000,
}


@pytest.fixture(scope="module")
def hf_plain(hf_minilm):
    tok = copy.deepcopy(hf_minilm)
    tok.no_truncation()
    tok.no_padding()
    return tok


@pytest.mark.parametrize("kind", sorted(INPUTS))
def test_cl100k_equals_tiktoken(cl100k, tiktoken_cl100k, kind):
    text = INPUTS[kind]
    ids = cl100k.encode(text)
    assert ids == tiktoken_cl100k.encode(text)
    assert cl100k.decode(ids) == text == tiktoken_cl100k.decode(ids)


@pytest.mark.parametrize("kind", sorted(INPUTS))
def test_smollm2_equals_transformers(smollm2, hf_smollm2, kind):
    text = INPUTS[kind]
    ids = smollm2.encode(text)
    assert ids == hf_smollm2.encode(text).ids
    assert smollm2.decode(ids) == text


@pytest.mark.parametrize("kind", sorted(INPUTS))
def test_minilm_equals_hf_tokenizers(minilm, hf_plain, kind):
    text = INPUTS[kind]
    assert minilm.encode(text).ids == hf_plain.encode(text).ids


@pytest.mark.parametrize("kind", ["spaces", "cjk", "one word", "emoji zwj", "punctuation"])
def test_basic_bpe_on_one_long_chunk_equals_tiktoken(kind):
    """BasicBPE merges the whole text as one chunk; tiktoken with a match-everything pattern does too."""
    import tiktoken

    tok = BasicBPE().train(INPUTS[kind][:300] + "hello world, hello", 256 + 40)
    ref = tiktoken.Encoding("basic", pat_str=r"[\s\S]+", mergeable_ranks=tok.ranks, special_tokens={})
    text = INPUTS[kind]
    assert tok.encode(text) == ref.encode(text)


def test_wordpiece_search_starts_at_the_longest_vocabulary_entry(minilm, monkeypatch):
    """A 100-letter word that matches only single letters costs len x longest lookups, not len²/2."""

    class CountingVocab(dict):
        lookups = 0

        def __contains__(self, key):
            CountingVocab.lookups += 1
            return super().__contains__(key)

    monkeypatch.setattr(minilm, "vocab", CountingVocab(minilm.vocab))
    word = "qxzj" * 25
    pieces = minilm.wordpiece(word)
    assert "".join(p.removeprefix("##") for p in pieces) == word
    assert CountingVocab.lookups <= len(word) * minilm._longest
    assert CountingVocab.lookups < len(word) ** 2 / 4


def test_chunk_cache_is_bounded_by_characters():
    cache = ChunkCache(list, chars=10)
    assert cache.join(["abcd", "efgh"]) == list("abcdefgh") and len(cache) == 2
    cache.join(["ijkl"])  # 12 characters would exceed the budget: emptied first
    assert len(cache) == 1 and cache._size == 4
    assert cache.join(["x" * 50]) == ["x"] * 50  # longer than the budget: computed, not kept
    assert len(cache) == 1 and cache._size == 4


def test_long_distinct_chunks_do_not_fill_memory():
    """Distinct long words (a 64-byte chunk each) stay within the character budget of the cache."""
    tok = RegexBPE("gpt4")
    tok._cache.chars = 4096
    words = " ".join(f"{i:064b}".replace("0", "a").replace("1", "b") for i in range(500))
    tok.encode(words)
    assert tok._cache._size <= 4096
