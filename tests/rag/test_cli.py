"""`groundup rag` end to end on a small folder, with the real MiniLM-BERT and SmolLM2: index, list,
retrieve, answer with a citation (streamed), add a document, delete one, and the bad-input messages."""

from __future__ import annotations

import json

import pytest

from groundup.cli import main

pytestmark = pytest.mark.module("3.1")


def test_rag_cli_end_to_end(docs_dir, tmp_path, capsys):
    idx = tmp_path / "index"
    with pytest.warns(UserWarning, match="image.txt"):
        assert main(["rag", "index", str(docs_dir), "--out", str(idx), "--max-chars", "200"]) == 0
    assert "indexed 3 documents" in capsys.readouterr().out

    assert main(["rag", "ask", str(idx), "Which volcano is in Sicily?", "--no-generate", "-k", "2"]) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert hits[0]["source"] == "sub/page.html" and "Etna" in hits[0]["text"]

    assert (
        main(["rag", "ask", str(idx), "When was the Eiffel Tower finished?", "-k", "2", "--max-tokens", "40"])
        == 0
    )
    captured = capsys.readouterr()
    assert "1889" in captured.out
    assert "cited: paris.md#0" in captured.err  # written by the model or attributed by word overlap

    (docs_dir / "more.txt").write_text("Kangaroos live in Australia and carry their young in a pouch.")
    with pytest.warns(UserWarning):
        assert main(["rag", "index", str(docs_dir), "--out", str(idx)]) == 0
    assert main(["rag", "delete", str(idx), "rivers.txt"]) == 0
    capsys.readouterr()
    assert main(["rag", "list", str(idx)]) == 0
    listing = capsys.readouterr().out
    assert "more.txt" in listing and "rivers.txt" not in listing

    assert main(["rag", "ask", str(tmp_path), "anything", "--no-generate"]) == 1
    assert "not a RAG index" in capsys.readouterr().err
