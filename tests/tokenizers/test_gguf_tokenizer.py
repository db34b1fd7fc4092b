"""The SmolLM2 tokenizer read from GGUF metadata gives transformers' ids for the same file.

transformers converts the GGUF vocabulary but has no split rule for its pre-tokenizer name
"smollm", so it splits like plain GPT-2. SmolLM2's own tokenizer.json and llama.cpp first isolate
every numeric character. The `hf_smollm2` fixture restores that rule; we equal it exactly, and with
the file's pre-tokenizer overridden to "gpt2" we equal the unmodified conversion exactly too.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundup.data import smollm2_gguf_path
from groundup.tokenizers import from_gguf

pytestmark = pytest.mark.module("3.2")


@pytest.fixture(scope="module")
def smollm2_gpt2_split():
    return from_gguf(smollm2_gguf_path(), pre_tokenizer="gpt2")


@pytest.mark.parametrize("name", ["wikitext2-test", "tinyshakespeare"])
def test_corpus_ids_equal_transformers(smollm2, hf_smollm2, corpora, name):
    text = corpora[name]
    ids = smollm2.encode(text)
    assert ids == hf_smollm2.encode(text).ids
    assert smollm2.decode(ids) == text


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_arbitrary_text_equals_transformers(
    smollm2, hf_smollm2, smollm2_gpt2_split, hf_smollm2_as_converted, text_strategy, data
):
    text = data.draw(text_strategy)
    ids = smollm2.encode(text)
    assert ids == hf_smollm2.encode(text).ids
    assert smollm2_gpt2_split.encode(text) == hf_smollm2_as_converted.encode(text)
    assert smollm2.decode(ids) == hf_smollm2.decode(ids, skip_special_tokens=False)
    assert smollm2.decode(ids, skip_special_tokens=True) == hf_smollm2.decode(ids, skip_special_tokens=True)


def test_the_one_disagreement_is_the_digit_split(smollm2, hf_smollm2_as_converted):
    """' ½' is one GPT-2 chunk (merged to 'ĠÂ' + '½'), but two chunks once numerics stand alone."""
    text = "4 ½ months"
    ours, converted = smollm2.encode(text), hf_smollm2_as_converted.encode(text)
    assert ours != converted
    assert [smollm2.id_to_token(i) for i in ours[:4]] == ["4", "Ġ", "Â½", "Ġmonths"]


def test_bytes_without_a_token_are_dropped_before_merging(smollm2, hf_smollm2):
    """0x04 has no token: transformers (and we) drop it first, so "!!" merges; llama.cpp gives [17, 17]."""
    assert smollm2.encode("!\x04!") == hf_smollm2.encode("!\x04!").ids == [smollm2.token_to_id("!!")]


def test_chat_template_specials_and_interface(smollm2, hf_smollm2):
    prompt = "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi 👋<|im_end|>\n"
    ids = smollm2.encode(prompt)
    assert ids == hf_smollm2.encode(prompt).ids
    assert ids.count(smollm2.token_to_id("<|im_start|>")) == 2 and ids[0] == 1
    assert smollm2.encode("<|im_end|>", allowed_special=()) != [2]  # plain text when not allowed
    assert (smollm2.bos_token_id, smollm2.eos_token_id, smollm2.vocab_size) == (1, 2, 49152)
    assert smollm2.encode("hi", add_bos=True)[0] == 1 and smollm2.encode("hi")[0] != 1  # file says no BOS
    assert smollm2.id_to_token(2) == "<|im_end|>" and smollm2.token_to_id("nope-not-a-token") is None
    assert "<|im_start|>" in smollm2.chat_template
    emoji = smollm2.encode("👋")
    assert smollm2.decode_bytes(emoji[:1]) == "👋".encode()[: len(smollm2.decode_bytes(emoji[:1]))]
    for bad in (49152, -1):
        with pytest.raises(ValueError, match="unknown token id"):
            smollm2.decode([5, bad])
        with pytest.raises(ValueError, match="unknown token id"):
            smollm2.decode_bytes([bad])


def test_bad_metadata_is_refused_with_the_reason():
    from groundup.errors import GroundupError
    from groundup.tokenizers import GGUFTokenizer
    from groundup.tokenizers.bytelevel import BYTE_TO_CHAR

    good = {
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "smollm",
        "tokenizer.ggml.tokens": [*BYTE_TO_CHAR, "ab"],
        "tokenizer.ggml.merges": ["a b"],
    }
    tok = GGUFTokenizer(good)
    assert tok.encode("cab") == [ord("c"), 256] and tok.decode([256]) == "ab"
    cases = [
        ({"tokenizer.ggml.model": "llama"}, "only byte-level BPE"),
        ({"tokenizer.ggml.pre": "mystery"}, "pre-tokenizer 'mystery' is not supported"),
        ({"tokenizer.ggml.tokens": [*BYTE_TO_CHAR, "ab", "a"]}, "token 'a' appears twice"),
        ({"tokenizer.ggml.merges": ["a b", "a c"]}, "merge #1 'a c'"),
        ({"tokenizer.ggml.token_type": [1, 1]}, "257 tokens but 2 token types"),
    ]
    for change, message in cases:
        with pytest.raises(GroundupError, match=message):
            GGUFTokenizer(good | change)
