"""BERT uncased WordPiece on all-MiniLM-L6-v2's vocab.txt gives HF tokenizers' ids on its tokenizer.json."""

from __future__ import annotations

import copy
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.errors import GroundupError
from groundup.tokenizers import WordPiece

pytestmark = pytest.mark.module("3.2")


@pytest.fixture(scope="module")
def hf_plain(hf_minilm):
    """The reference without the file's truncation/padding at 128, to compare whole lines."""
    tok = copy.deepcopy(hf_minilm)
    tok.no_truncation()
    tok.no_padding()
    return tok


@pytest.mark.parametrize("name", ["wikitext2-test", "tinyshakespeare"])
def test_corpus_lines_equal_hf(minilm, hf_plain, corpora, name):
    lines = corpora[name].split("\n")
    ours = [minilm.encode(line).ids for line in lines]
    ref = [e.ids for e in hf_plain.encode_batch(lines)]
    mismatches = [i for i in range(len(lines)) if ours[i] != ref[i]]
    assert not mismatches, f"{len(mismatches)} lines differ, first: {lines[mismatches[0]][:200]!r}"


def stable(c: str) -> bool:
    """A character whose Unicode properties agree between Python's database and HF's Rust tables.

    Both sides agree on characters whose category has not changed since Unicode 3.2, and on letters,
    digits and symbols added later (new emoji, new CJK). They differ on combining marks, format
    characters and punctuation added after about Unicode 10 (see wordpiece.py), and on code points
    Python 3.11 does not know yet. The rule uses Unicode data only, never the reference's behaviour.
    """
    now, old = unicodedata.category(c), unicodedata.ucd_3_2_0.category(c)
    return now != "Cn" and (old == now or (old == "Cn" and now[0] in "LNS"))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_arbitrary_text_equals_hf(minilm, hf_plain, text_strategy, data):
    text = "".join(filter(stable, data.draw(text_strategy)))
    ours, ref = minilm.encode(text), hf_plain.encode(text)
    assert ours.tokens == ref.tokens
    assert ours.ids == ref.ids
    assert minilm.decode(ours.ids) == hf_plain.decode(ref.ids)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), max_length=st.integers(3, 40))
def test_pairs_truncation_padding_equal_hf(minilm, hf_minilm, text_strategy, data, max_length):
    """The shipped tokenizer.json truncates longest-first and pads to a fixed length; so do we."""
    a, b = ("".join(filter(stable, data.draw(text_strategy))) for _ in range(2))
    ref_tok = copy.deepcopy(hf_minilm)
    ref_tok.enable_truncation(max_length)
    ref_tok.enable_padding(length=max_length)
    for pair in (None, b):
        ours = minilm.encode(a, pair, max_length=max_length, padding=True)
        ref = ref_tok.encode(a, pair)
        assert (ours.ids, ours.type_ids, ours.attention_mask) == (ref.ids, ref.type_ids, ref.attention_mask)


def test_shipped_defaults_128(minilm, hf_minilm):
    a, b = "The quick brown fox. " * 40, "Jumps over the lazy dog!"
    ours, ref = minilm.encode(a, b, max_length=128, padding=True), hf_minilm.encode(a, b)
    assert (ours.ids, ours.type_ids, ours.attention_mask) == (ref.ids, ref.type_ids, ref.attention_mask)
    short = minilm.encode("hi", max_length=128, padding=True)
    assert short.ids == hf_minilm.encode("hi").ids and sum(short.attention_mask) == 3


def test_worked_examples(minilm):
    assert minilm.encode("Héllo, WORLD!").tokens == ["[CLS]", "hello", ",", "world", "!", "[SEP]"]
    assert minilm.tokenize("unaffable 東京") == ["una", "##ffa", "##ble", "東", "京"]
    assert minilm.tokenize("a" * 101) == ["[UNK]"]
    assert minilm.tokenize("[MASK] is [mask]") == ["[MASK]", "is", "[", "mask", "]"]


def test_bad_vocab_files_name_the_line(tmp_path):
    dup = tmp_path / "dup.txt"
    dup.write_text("[PAD]\n[UNK]\nhello\n[CLS]\nhello\n")
    with pytest.raises(GroundupError, match=r"dup.txt:5: token 'hello' is listed twice \(first on line 3\)"):
        WordPiece.from_vocab_file(dup)
    gap = tmp_path / "gap.txt"
    gap.write_text("[PAD]\n\n[UNK]\n")
    with pytest.raises(GroundupError, match="gap.txt:2: empty line"):
        WordPiece.from_vocab_file(gap)
    missing = tmp_path / "missing.txt"
    missing.write_text("[PAD]\nhello\n")
    with pytest.raises(GroundupError, match="'\\[UNK\\]' is not in the vocabulary"):
        WordPiece.from_vocab_file(missing)


def test_bad_arguments(minilm):
    with pytest.raises(ValueError, match="unknown token id"):
        minilm.decode([101, 999999])
    with pytest.raises(ValueError, match="max_length"):
        minilm.encode("x", max_length=0)
