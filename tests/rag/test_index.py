"""The index: build, search three ways, save and reopen without re-embedding, add and delete
documents, and the errors for a wrong model, a wrong format version and an empty index."""

from __future__ import annotations

import json

import numpy as np
import pytest

from groundup.errors import GroundupError
from groundup.rag.index import RagIndex
from groundup.rag.ingest import Document, load_folder

pytestmark = pytest.mark.module("3.1")


@pytest.fixture
def index(docs_dir, hash_embedder):
    with pytest.warns(UserWarning):
        docs = load_folder(docs_dir)
    idx = RagIndex(hash_embedder, {"name": "sentences", "max_chars": 80}, model="hash-64")
    idx.add(docs)
    return idx


def test_search_modes_find_the_right_chunk(index):
    for mode in ("bm25", "dense", "hnsw", "hybrid", "weighted"):
        best = index.chunks[index.search("Which volcano is in Sicily?", k=3, mode=mode)[0][0]]
        assert "Etna" in best.text, mode
    with pytest.raises(ValueError, match="mode"):
        index.search("x", mode="magic")


def test_save_reopen_round_trip(index, tmp_path, hash_embedder):
    path = index.save(tmp_path / "idx")
    meta = json.loads((path / "meta.json").read_text())
    assert meta["format_version"] == 1 and meta["model"] == "hash-64" and meta["count"] == len(index)

    class NoEmbedding:  # reopening must not embed anything
        def __call__(self, texts):
            raise AssertionError("re-embedded on open")

    again = RagIndex.open(path, NoEmbedding(), model="hash-64")
    np.testing.assert_array_equal(again.vectors, index.vectors)
    assert [c.id for c in again.chunks] == [c.id for c in index.chunks] and again.chunker == index.chunker
    assert again.bm25("longest river", 1) == index.bm25("longest river", 1)
    assert not list(tmp_path.glob(".idx.*"))  # no temporary folders left behind


def test_incremental_add_and_delete(index, tmp_path, hash_embedder):
    n = len(index)
    added = index.add([Document("new.txt", "Kangaroos live in Australia.")])
    assert added == 1 and len(index) == n + 1
    assert index.chunks[index.search("kangaroos", 1, mode="bm25")[0][0]].source == "new.txt"
    index.add([Document("new.txt", "Koalas eat eucalyptus. Wombats dig burrows.")])  # replaced, not doubled
    assert [c.text for c in index.chunks if c.source == "new.txt"] == [
        "Koalas eat eucalyptus. Wombats dig burrows."
    ]
    rivers = sum(c.source == "rivers.txt" for c in index.chunks)
    assert index.delete(["rivers.txt"]) == rivers == 2 and "rivers.txt" not in index.sources()
    assert len(index.vectors) == len(index.chunks)
    with pytest.raises(GroundupError, match="no document 'gone.txt'"):
        index.delete(["gone.txt"])
    index.save(tmp_path / "idx")
    assert RagIndex.open(tmp_path / "idx", hash_embedder, model="hash-64").sources() == index.sources()


def test_open_errors_name_both_sides(index, tmp_path, hash_embedder):
    path = index.save(tmp_path / "idx")
    with pytest.raises(GroundupError, match="'hash-64'.*'all-MiniLM-L6-v2'"):
        RagIndex.open(path, hash_embedder)
    meta = json.loads((path / "meta.json").read_text())
    (path / "meta.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(GroundupError, match="version 99.*version 1"):
        RagIndex.open(path, hash_embedder, model="hash-64")
    with pytest.raises(GroundupError, match="not a RAG index"):
        RagIndex.open(tmp_path, hash_embedder)
    with pytest.raises(GroundupError, match="empty"):
        RagIndex(hash_embedder).search("anything", mode="bm25")
