"""cl100k_base from the bundled rank file gives tiktoken's ids exactly, with its special-token rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.module("0.7", "3.2")


@pytest.mark.parametrize("name", ["wikitext2-test", "tinyshakespeare"])
def test_corpus_ids_equal_tiktoken(cl100k, tiktoken_cl100k, corpora, name):
    text = corpora[name]
    ids = cl100k.encode(text)
    assert ids == tiktoken_cl100k.encode(text)
    assert cl100k.decode(ids) == text


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_arbitrary_text_ids_equal_tiktoken(cl100k, tiktoken_cl100k, text_strategy, data):
    text = data.draw(text_strategy)
    ordinary = cl100k.encode(text, disallowed_special=())
    assert ordinary == tiktoken_cl100k.encode(text, disallowed_special=())
    assert cl100k.encode(text, allowed_special="all") == tiktoken_cl100k.encode(text, allowed_special="all")
    assert cl100k.decode(ordinary) == text


def test_special_tokens_follow_tiktoken(cl100k, tiktoken_cl100k):
    text = "hello <|endoftext|> world <|fim_prefix|>"
    for kwargs in (
        {"allowed_special": "all"},
        {"allowed_special": {"<|endoftext|>"}, "disallowed_special": ()},
        {"disallowed_special": ()},
    ):
        assert cl100k.encode(text, **kwargs) == tiktoken_cl100k.encode(text, **kwargs)
    assert cl100k.encode("<|endoftext|>", allowed_special="all") == [100257]
    with pytest.raises(ValueError, match="<\\|endoftext\\|>"):
        cl100k.encode(text)
    with pytest.raises(ValueError):
        tiktoken_cl100k.encode(text)  # the reference refuses too
    with pytest.raises(ValueError, match="<\\|fim_prefix\\|>"):
        cl100k.encode(text, allowed_special={"<|endoftext|>"})


def test_decode_invalid_utf8_and_bad_ids(cl100k, tiktoken_cl100k):
    ids = cl100k.encode("héllo 😀")
    broken = ids[:1] + [cl100k.ranks["😀".encode()[:2]]] + ids[1:]  # half an emoji in the middle
    assert "\ufffd" in cl100k.decode(broken)
    assert cl100k.decode(broken) == tiktoken_cl100k.decode(broken)
    assert cl100k.decode_bytes(broken) == tiktoken_cl100k.decode_bytes(broken)
    assert cl100k.token_bytes(100257) == b"<|endoftext|>"
    for bad in (100256, -1, 10**9):
        with pytest.raises(ValueError, match=str(bad)):
            cl100k.decode([1, bad])


def test_encode_batch_and_lone_surrogates(cl100k, tiktoken_cl100k):
    texts = ["a b c", "", "The 2024 café ☕", "x\ud800y"]
    assert cl100k.encode_batch(texts) == tiktoken_cl100k.encode_batch(texts[:3]) + [
        tiktoken_cl100k.encode(texts[3])
    ]
    assert cl100k.vocab_size == tiktoken_cl100k.n_vocab
