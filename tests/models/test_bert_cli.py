"""`groundup bert embed|classify` (0.10): embeddings as JSON lines, truncation stated or refused."""

from __future__ import annotations

import json

import pytest

from groundup.cli import main

pytestmark = pytest.mark.module("0.10")


def test_embed_states_truncation_or_refuses(capsys):
    long = "word " * 100
    assert main(["bert", "embed", "--max-length", "32", "A man plays guitar.", long]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "note: text 1 was truncated to 32 tokens"
    rows = [json.loads(line) for line in out[1:]]
    assert [r["text"] for r in rows] == ["A man plays guitar.", long] and len(rows[0]["embedding"]) == 384
    assert main(["bert", "embed", "--max-length", "32", "--no-truncate", long]) != 0
    assert "over the maximum length 32" in capsys.readouterr().err


def test_classify_needs_a_finetuned_folder(tmp_path, capsys):
    assert main(["bert", "classify", str(tmp_path), "hello"]) != 0
    assert "no classifier.json" in capsys.readouterr().err
