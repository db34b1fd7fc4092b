"""Loading a folder (txt, md, html; binary and undecodable files skipped with a warning) and the three
chunkers, whose spans always point back at the exact source text."""

from __future__ import annotations

import pytest

from groundup.rag.chunk import recursive_chunks, sentence_chunks, token_windows
from groundup.rag.ingest import html_to_text, load_folder

pytestmark = pytest.mark.module("3.1")


def test_load_folder_skips_bad_files_with_a_warning(docs_dir):
    with pytest.warns(UserWarning) as caught:
        docs = load_folder(docs_dir)
    messages = " ".join(str(w.message) for w in caught)
    assert "image.txt" in messages and "binary" in messages and "latin1.md" in messages
    assert [d.source for d in docs] == ["paris.md", "rivers.txt", "sub/page.html"]
    html = docs[2].text
    assert "Mount Etna is an active volcano" in html and "color" not in html and "var x" not in html
    assert html.startswith("Volcanoes") and "# Volcanoes" in html
    with pytest.raises(NotADirectoryError):
        load_folder(docs_dir / "rivers.txt")


def test_html_to_text_blocks():
    assert html_to_text("<p>a&amp;b</p><p>c</p>") == "a&b\n\nc"


class Chars:
    def encode(self, text):
        return list(text)


TEXT = (
    " = Valkyria = \n\n Senjō no Valkyria 3 is a game . It was released in 2011 .\n\n = = Gameplay = = \n\n"
    + ("The player moves units across the map. " * 12)
)


@pytest.mark.parametrize(
    "chunks",
    [
        lambda: token_windows("t", TEXT, Chars(), size=60, overlap=20),
        lambda: sentence_chunks("t", TEXT, max_chars=120),
        lambda: recursive_chunks("t", TEXT, max_chars=200),
    ],
)
def test_spans_point_at_the_source_text(chunks):
    out = chunks()
    assert out and all(TEXT[c.start : c.end] == c.text and c.text.strip() == c.text for c in out)
    assert [c.id for c in out] == [f"t#{i}" for i in range(len(out))]


def test_token_windows_respect_size_and_overlap():
    out = token_windows("t", "w" + " w".join(str(i) for i in range(100)), Chars(), size=30, overlap=10)
    assert all(sum(map(len, c.text.split())) <= 30 for c in out)  # tokens counted per word
    assert all(a.end > b.start for a, b in zip(out, out[1:]))  # consecutive windows overlap
    assert out[-1].text.endswith("99")
    with pytest.raises(ValueError, match="overlap"):
        token_windows("t", "x", Chars(), size=10, overlap=10)


def test_recursive_chunks_follow_headings():
    out = recursive_chunks("t", TEXT, max_chars=200)
    assert out[0].text.startswith("= Valkyria =") and "released in 2011" in out[0].text
    assert any(c.text.startswith("= = Gameplay = =") for c in out)
    assert all(len(c.text) <= 200 for c in out)
