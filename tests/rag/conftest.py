"""Fixtures for the RAG checks: a cheap deterministic embedder (bag of hashed words, unit vectors) for
the plumbing tests (the CLI test uses the real MiniLM-BERT and SmolLM2), and a small documents folder."""

from __future__ import annotations

import zlib

import numpy as np
import pytest


class HashEmbedder:
    """Unit vectors from hashed lowercase words: texts sharing words are close. Not a model; a stand-in."""

    dim = 64

    def __call__(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, zlib.crc32(word.strip(".,?!").encode()) % self.dim] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    @property
    def tokenizer(self):
        class Words:
            def encode(self, text):
                return text.split()

        return Words()


@pytest.fixture
def hash_embedder():
    return HashEmbedder()


DOCS = {
    "paris.md": "# Paris\n\nParis is the capital of France. The Eiffel Tower was finished in 1889.\n\n"
    "## Food\n\nCroissants are a common breakfast in Paris.\n",
    "rivers.txt": "The Nile is the longest river in Africa. The Amazon carries the most water of any river.\n",
    "page.html": "<html><head><style>p {color: red}</style><title>Volcanoes</title></head><body>"
    "<h1>Volcanoes</h1><p>Mount Etna is an active volcano in Sicily.</p><script>var x = 1;</script></body></html>",
}


@pytest.fixture
def docs_dir(tmp_path):
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    for name, text in DOCS.items():
        (folder / ("sub/" + name if name.endswith(".html") else name)).write_text(text)
    (folder / "image.txt").write_bytes(b"\x89PNG\r\n\x00\x00binary")
    (folder / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    (folder / "ignored.pdf").write_bytes(b"%PDF")
    return folder
