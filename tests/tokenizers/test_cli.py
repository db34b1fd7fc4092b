"""`groundup tokenize train|encode|stats` end to end through the real entry point."""

from __future__ import annotations

import pytest
import tiktoken

from groundup.cli import main
from groundup.tokenizers import load_bpe

pytestmark = pytest.mark.module("0.7", "3.2")


def test_train_then_encode_with_the_file(tmp_path, capsys, tiktoken_cl100k):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat, the cat ate the rat.\n" * 50, encoding="utf-8")
    out = tmp_path / "tok.bpe"
    assert (
        main(["tokenize", "train", str(corpus), "--vocab-size", "280", "--pattern", "gpt4", "-o", str(out)])
        == 0
    )
    assert "learned 17 merges" in capsys.readouterr().out  # then every chunk is one token: stops early
    tok = load_bpe(out)
    assert main(["tokenize", "encode", "--tokenizer", str(out), "--color", "never", "the cat"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(tok.encode("the cat")) and lines[1].replace("|", "") == "the cat"
    ranks = tmp_path / "tok.tiktoken"
    assert main(["tokenize", "train", str(corpus), "--vocab-size", "280", "-o", str(ranks)]) == 0
    ref = tiktoken.Encoding("t", pat_str=tok.pattern, mergeable_ranks=tok.ranks, special_tokens={})
    capsys.readouterr()
    assert main(["tokenize", "encode", "--tokenizer", str(ranks), "the rat sat"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == str(ref.encode("the rat sat"))


@pytest.mark.parametrize("name", ["cl100k", "minilm"])
def test_encode_named_tokenizers(capsys, name, tiktoken_cl100k, hf_minilm):
    assert main(["tokenize", "encode", "--tokenizer", name, "--color", "always", "Hello, world!"]) == 0
    ids, colored, count = capsys.readouterr().out.splitlines()
    if name == "cl100k":
        expected = tiktoken_cl100k.encode("Hello, world!")
    else:  # the shipped tokenizer.json pads to 128: keep the real tokens
        ref = hf_minilm.encode("Hello, world!", add_special_tokens=False)
        expected = [i for i, keep in zip(ref.ids, ref.attention_mask) if keep]
    assert ids == str(expected)
    assert "\x1b[48;5;" in colored and count == f"{len(expected)} tokens"


def test_stats(tmp_path, capsys, tiktoken_cl100k):
    text = "To be, or not to be, that is the question. ☕\n" * 20
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    assert main(["tokenize", "stats", str(path)]) == 0
    out = capsys.readouterr().out
    n = len(tiktoken_cl100k.encode(text))
    assert f"tokens            {n:,}" in out
    assert f"bytes per token   {len(text.encode()) / n:.3f}" in out


def test_bad_input_is_one_line(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("abc", encoding="utf-8")
    assert main(["tokenize", "train", str(corpus), "--vocab-size", "10", "-o", str(tmp_path / "x")]) == 1
    assert "vocab_size must be at least 256" in capsys.readouterr().err
    assert main(["tokenize", "encode", "--tokenizer", str(tmp_path / "missing"), "x"]) == 1
    assert "neither a tokenizer name" in capsys.readouterr().err
