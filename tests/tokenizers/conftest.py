"""Fixtures for the tokenizer tests: ours and the reference side by side, the corpora, and a text
strategy that mixes the hard cases (emoji, combining marks, CJK, whitespace runs, digits, code and
special-token look-alikes) into arbitrary Unicode."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from groundup.data import cl100k_ranks_path, minilm_dir, smollm2_gguf_path

FRAGMENTS = [
    "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "e\u0301", "n\u0303o", "\u0301\u0302", "漢字", "東京タワー", "한국어",
    "Ελληνικά", "ΣΊΣΥΦΟΣ", "İstanbul", "straße", "ﬁ", "½", "²", "٣", "x²", "1234567", "3.14159",
    "def f(x):\n    return x ** 2\n", "if (a && b) { return -1; }", "\t\t", "\r\n", "   \n\n  ",
    "<|endoftext|>", "<|endoftext", "|endoftext|>", "<|im_start|>", "<|im_end|>", "[CLS]", "[cls]",
    "[SEP]", "[MASK]", "<|fim_prefix|>", "<| endoftext |>", "don't", "WE'LL", "'s", "\u200b", "\ufeff",
    "\x00", "\x1c", "\xa0", "\u3000", "\u2028", "\ufffd", "…", "—", "«»", "@#$%^&*",
]  # fmt: skip


def unicode_text() -> st.SearchStrategy[str]:
    """Arbitrary Unicode (no lone surrogates) interleaved with the hard cases and long whitespace runs."""
    piece = st.one_of(
        st.text(max_size=12),
        st.sampled_from(FRAGMENTS),
        st.text(alphabet=" \t\n\r\xa0\u3000", min_size=1, max_size=40),
        st.integers(0, 10**12).map(str),
        st.text(alphabet=st.characters(codec="ascii"), max_size=20),
    )
    return st.lists(piece, max_size=12).map("".join)


@pytest.fixture(scope="session")
def text_strategy():
    return unicode_text()


@pytest.fixture(scope="session")
def corpora(data_dir) -> dict[str, str]:
    """WikiText-2 test and tiny Shakespeare, whole."""
    return {
        "wikitext2-test": (data_dir / "wikitext-2" / "test.txt").read_text(encoding="utf-8"),
        "tinyshakespeare": (data_dir / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8"),
    }


@pytest.fixture(scope="session")
def cl100k():
    from groundup.tokenizers import load_tiktoken

    return load_tiktoken()


@pytest.fixture(scope="session")
def tiktoken_cl100k():
    """The reference: tiktoken's own cl100k_base definition (pattern, specials), with its rank file
    read from the bundled copy instead of the network."""
    from unittest import mock

    import tiktoken
    import tiktoken_ext.openai_public as openai_public
    from tiktoken.load import load_tiktoken_bpe

    def local_ranks(url, expected_hash=None):
        assert url.endswith("/cl100k_base.tiktoken"), url
        return load_tiktoken_bpe(str(cl100k_ranks_path()), expected_hash)

    with mock.patch.object(openai_public, "load_tiktoken_bpe", local_ranks):
        return tiktoken.Encoding(**openai_public.cl100k_base())


@pytest.fixture(scope="session")
def minilm():
    from groundup.tokenizers import WordPiece

    return WordPiece.from_pretrained(minilm_dir())


@pytest.fixture(scope="session")
def hf_minilm():
    """HF tokenizers on the model's tokenizer.json, as shipped (truncation and padding at 128)."""
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))


@pytest.fixture(scope="session")
def smollm2():
    from groundup.tokenizers import from_gguf

    return from_gguf(smollm2_gguf_path())


@pytest.fixture(scope="session")
def hf_smollm2_as_converted():
    """transformers' tokenizer converted from the same GGUF, unmodified."""
    from transformers import AutoTokenizer

    path = smollm2_gguf_path()
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


@pytest.fixture(scope="session")
def hf_smollm2(hf_smollm2_as_converted):
    """The converted tokenizer (its Rust backend) with SmolLM2's own pre-tokenizer restored.

    transformers knows no split rule for the GGUF pre-tokenizer name "smollm" and falls back to plain
    GPT-2 byte-level splitting. SmolLM2's tokenizer.json (and llama.cpp's "smollm") first isolates
    every numeric character, then splits like GPT-2; this puts that back.
    """
    from tokenizers import Tokenizer, pre_tokenizers

    tok = Tokenizer.from_str(hf_smollm2_as_converted.backend_tokenizer.to_str())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    return tok
