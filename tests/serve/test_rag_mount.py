"""`groundup serve --rag-index`: POST /v1/rag/query on the OpenAI server, answered by the served model
(SmolLM2 here) through the serving engine, equal to RAG's own greedy answer with the same model."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from groundup.rag import answer as rag_answer
from groundup.rag.index import RagIndex
from groundup.rag.ingest import Document

pytestmark = pytest.mark.module("3.1")


class WordHashEmbedder:
    """Unit vectors of hashed words: a stand-in for MiniLM where only the route's plumbing is checked."""

    def __call__(self, texts):
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, zlib.crc32(word.strip(".,?!").encode()) % 64] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_rag_route_answers_with_the_served_model(smollm2, smollm2_tokenizer):
    from fastapi.testclient import TestClient

    from groundup.serve.async_engine import AsyncEngine
    from groundup.serve.engine import Engine, EngineConfig
    from groundup.serve.rag_mount import mount_rag
    from groundup.serve.server import OpenAIServer

    index = RagIndex(WordHashEmbedder(), {"name": "sentences", "max_chars": 80}, model="hash-64")
    index.add([Document("bridge.txt", "The bridge opened in 1932."), Document("cats.txt", "Cats purr.")])
    config = EngineConfig(num_blocks=64, block_size=16, max_running=4, max_tokens_per_step=512)
    engine = Engine(smollm2, config, eos_token_ids=[smollm2_tokenizer.eos_token_id])
    async_engine = AsyncEngine(engine).start()
    try:
        server = OpenAIServer(async_engine, smollm2_tokenizer, "smollm2")
        mount_rag(server, index, max_tokens=16)
        client = TestClient(server.app)
        body = client.post(
            "/v1/rag/query", json={"query": "When did the bridge open?", "k": 1, "answer": True}
        ).json()
    finally:
        async_engine.shutdown()
    assert body["chunks"][0]["source"] == "bridge.txt"
    chunks = [index.chunks[0]]
    generator = rag_answer.Generator(max_tokens=16)  # RAG's own path (`groundup rag ask`), same model
    generator.model, generator.tokenizer = smollm2, smollm2_tokenizer
    expected = rag_answer.answer("When did the bridge open?", chunks, generator)
    assert body["answer"]["text"] == expected.text
    assert body["answer"]["citations"] == expected.citations
