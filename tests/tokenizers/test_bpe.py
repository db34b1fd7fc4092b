"""BasicBPE/RegexBPE training, tie-breaking, files and bad input."""

from __future__ import annotations

import base64
import functools
from collections import Counter

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.tokenizers import GPT4_SPLIT_PATTERN, BasicBPE, RegexBPE, load_bpe
from groundup.tokenizers.io import TokenizerFileError
from groundup.tokenizers.train import learn_merges, learn_merges_naive

pytestmark = pytest.mark.module("0.7", "3.2")


def test_wikipedia_example_by_hand():
    """aaabdaaabac: aa (4x) -> 256; then ab and 256a both occur twice: the smaller pair (97, 98)
    wins the tie -> 257; then 256 257 (twice) -> 258, leaving 258 d 258 a c."""
    tok = BasicBPE().train("aaabdaaabac", 259)
    assert tok.merges == [((97, 97), 256), ((97, 98), 257), ((256, 257), 258)]
    assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
    assert tok.token_bytes(258) == b"aaab"


def test_regex_training_by_hand():
    """GPT-4 split of "hug hugs hugging" is hug | ' hugs' | ' hugging'; pairs (h,u) and (u,g) occur
    3x each, (' ',h) 2x: ties go to the smaller pair, so hu -> 256, then (256, g) -> 257 'hug'."""
    tok = RegexBPE("gpt4").train("hug hugs hugging", 259)
    assert tok.merges == [((104, 117), 256), ((256, 103), 257), ((32, 257), 258)]
    assert tok.encode("hugs hug") == [257, 115, 258]


@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet="ab c\nd", max_size=200), vocab=st.integers(256, 300))
def test_incremental_trainer_equals_naive(text, vocab):
    chunks = regex.findall(GPT4_SPLIT_PATTERN, text)
    counts = Counter(c.encode() for c in chunks)
    assert learn_merges(counts, vocab - 256) == learn_merges_naive([c.encode() for c in chunks], vocab - 256)


def test_trained_on_shakespeare_equals_naive(corpora):
    text = corpora["tinyshakespeare"][:20000]
    tok = RegexBPE("gpt2").train(text, 256 + 40)
    chunks = [c.encode() for c in regex.findall(tok.pattern, text)]
    assert tok.merges == learn_merges_naive(chunks, 40)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_round_trip_any_text(text_strategy, data):
    tok = _trained()
    text = data.draw(text_strategy)
    for t in (tok, _trained_basic()):
        assert t.decode(t.encode(text, disallowed_special=())) == text


def test_save_load_round_trip(tmp_path, corpora):
    tok = RegexBPE("gpt4", {"<|endoftext|>": 400}).train(SAMPLE, 256 + 60)
    path = tmp_path / "tok.bpe"
    tok.save(path)
    back = load_bpe(path)
    assert isinstance(back, RegexBPE) and back.pattern == tok.pattern
    assert back.merges == tok.merges and back.ranks == tok.ranks and back.special_tokens == tok.special_tokens
    text = corpora["tinyshakespeare"][:5000] + "<|endoftext|>"
    assert back.encode(text, allowed_special="all") == tok.encode(text, allowed_special="all")
    assert "Ġthe" in path.read_text(encoding="utf-8")  # readable: bytes spelled GPT-2 style
    basic = _trained_basic()
    basic.save(path)
    assert type(load_bpe(path)) is BasicBPE


def test_tiktoken_export_import(tmp_path):
    import tiktoken

    tok = _trained()
    path = tmp_path / "ranks.tiktoken"
    tok.save_tiktoken(path)
    back = RegexBPE.from_tiktoken(path, "gpt4")
    ref = tiktoken.Encoding("ours", pat_str=GPT4_SPLIT_PATTERN, mergeable_ranks=tok.ranks, special_tokens={})
    text = "First Citizen:\nBefore we proceed any further, hear me speak. 1234 ☕"
    assert back.encode(text) == tok.encode(text) == ref.encode(text)


def test_bad_rank_files_name_the_line(tmp_path):
    good = [f"{base64.b64encode(bytes([b])).decode()} {b}" for b in range(256)]
    cases = {
        "dup_token": (good + [f"{base64.b64encode(b'a').decode()} 256"], ":257: token b'a' is listed twice"),
        "dup_rank": (
            good + [f"{base64.b64encode(b'ab').decode()} 5"],
            ":257: rank 5 already given on line 6",
        ),
        "gap": (good + [f"{base64.b64encode(b'ab').decode()} 300"], "rank 256 is missing"),
        "no_byte": (good[:7] + good[8:], "byte 0x07 has no token"),
        "garbage": (good[:3] + ["not base64!! 3"], ":4: expected 'base64-token rank'"),
    }
    for name, (lines, message) in cases.items():
        path = tmp_path / f"{name}.tiktoken"
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(TokenizerFileError, match=regex.escape(message)):
            RegexBPE.from_tiktoken(path)


def test_bad_saved_file_names_the_line(tmp_path):
    path = tmp_path / "tok.bpe"
    _trained().save(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    dup_at = len(lines) - 1
    lines[dup_at] = lines[dup_at].split(" ")[0] + " " + lines[-2].split(" ")[1]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(TokenizerFileError, match=f":{dup_at + 1}: token .* is listed twice"):
        load_bpe(path)


@pytest.mark.parametrize("bad", [255, 0, -5, 300.0, "512", True, None])
def test_vocab_size_must_be_an_int_of_at_least_256(bad):
    with pytest.raises(ValueError, match="vocab_size"):
        RegexBPE().train("hello", bad)


def test_bad_pattern_and_unknown_special():
    with pytest.raises(ValueError, match="pattern"):
        RegexBPE("(unclosed")
    tok = _trained()
    with pytest.raises(ValueError, match="not special tokens"):
        tok.encode("x", allowed_special={"<|nope|>"})
    with pytest.raises(ValueError, match="unknown token id 999"):
        tok.decode([999])


SAMPLE = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish? the the the 2024 ☕☕ "
) * 3


@functools.cache
def _trained() -> RegexBPE:
    return RegexBPE("gpt4").train(SAMPLE, 256 + 60)


@functools.cache
def _trained_basic() -> BasicBPE:
    return BasicBPE().train(SAMPLE, 256 + 30)


def test_docstring_examples_hold():
    import doctest

    from groundup.tokenizers import base, basic, regex_bpe, train

    for module in (base, basic, regex_bpe, train):
        assert doctest.testmod(module).failed == 0, module.__name__
