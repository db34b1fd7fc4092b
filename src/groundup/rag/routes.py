"""`POST /v1/rag/query`: the index behind an HTTP route, an extension next to the OpenAI-compatible API.

Request  {"query": "...", "k": 4, "mode": "hybrid", "answer": false}
Response {"object": "rag.query", "query": "...", "chunks": [{"id", "source", "start", "end", "text",
          "score"}, ...], "answer": null | {"text", "citations", "attributed", "refused"}}

`rag_router(index, answer=...)` returns a FastAPI router; `app.include_router(...)` mounts it on any app,
e.g. the server of `groundup serve`, passing an `answer(question, chunks) -> Answer` that uses the served
model. Without `answer`, a request asking for one gets 400.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from groundup.errors import GroundupError
from groundup.rag.answer import Answer
from groundup.rag.chunk import Chunk
from groundup.rag.index import RagIndex


class RagQuery(BaseModel):
    query: str = Field(min_length=1)
    k: int = Field(4, ge=1, le=100)
    mode: Literal["hybrid", "weighted", "dense", "hnsw", "bm25"] = "hybrid"
    answer: bool = False


def rag_router(index: RagIndex, answer: Callable[[str, list[Chunk]], Answer] | None = None) -> APIRouter:
    router = APIRouter()

    def run(req: RagQuery) -> dict:
        try:
            hits = index.search(req.query, req.k, req.mode)
        except GroundupError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        chunks = [index.chunks[i] for i, _ in hits]
        body = {
            "object": "rag.query",
            "query": req.query,
            "chunks": [asdict(c) | {"score": s} for c, (_, s) in zip(chunks, hits)],
            "answer": None,
        }
        if req.answer:
            if answer is None:
                raise HTTPException(
                    status_code=400, detail="this server has no answering model; send answer=false"
                )
            reply = answer(req.query, chunks)
            body["answer"] = {
                "text": reply.text,
                "citations": reply.citations,
                "attributed": reply.attributed,
                "refused": reply.refused,
            }
        return body

    @router.post("/v1/rag/query")
    async def query(req: RagQuery) -> dict:
        return await run_in_threadpool(run, req)  # search and generation block: keep the event loop free

    return router
