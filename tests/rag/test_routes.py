"""The /v1/rag/query route mounted on a FastAPI app: chunks with scores, an answer from the given
answerer, and 400/422 for an empty index, a missing answerer and a bad request."""

from __future__ import annotations

import pytest

from groundup.rag.answer import grounded
from groundup.rag.index import RagIndex
from groundup.rag.ingest import Document

pytestmark = pytest.mark.module("3.1")


def test_rag_query_route(hash_embedder):
    fastapi = pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from groundup.rag.routes import rag_router

    index = RagIndex(hash_embedder, {"name": "sentences", "max_chars": 80}, model="hash-64")
    index.add([Document("a.txt", "The bridge opened in 1932."), Document("b.txt", "Cats purr when content.")])
    app = fastapi.FastAPI()
    app.include_router(rag_router(index, answer=lambda q, chunks: grounded("It opened in 1932.", chunks)))
    client = TestClient(app)
    body = client.post(
        "/v1/rag/query", json={"query": "When did the bridge open?", "k": 1, "answer": True}
    ).json()
    assert body["chunks"][0]["id"] == "a.txt#0" and body["chunks"][0]["score"] > 0
    assert body["answer"]["citations"] == ["a.txt#0"] and body["answer"]["attributed"]
    assert client.post("/v1/rag/query", json={"query": ""}).status_code == 422

    bare = fastapi.FastAPI()
    bare.include_router(rag_router(RagIndex(hash_embedder)))
    response = TestClient(bare).post("/v1/rag/query", json={"query": "x", "mode": "bm25"})
    assert response.status_code == 400 and "empty" in response.json()["detail"]
    app2 = fastapi.FastAPI()
    app2.include_router(rag_router(index))
    assert TestClient(app2).post("/v1/rag/query", json={"query": "x", "answer": True}).status_code == 400
