"""`groundup serve --rag-index DIR`: the RAG route (`POST /v1/rag/query`) on the OpenAI-compatible
server, answering with the model the server already serves.

The route (`groundup.rag.routes`) searches the index and, when a request asks for an answer, calls an
`answer(question, chunks)` function. Here that function renders RAG's chat messages (the retrieved
chunks as context, the citation and refusal instructions) through the served model's chat template and
runs them as one more request of the serving engine, greedy, so an answer is batched with the other
traffic instead of needing a second copy of the model. The route runs in a worker thread (search and
generation block), so the request is handed back to the event loop with `anyio.from_thread.run`.
"""

from __future__ import annotations

from anyio import from_thread

from groundup.generate import SamplingParams
from groundup.rag import answer as rag_answer
from groundup.rag.chunk import Chunk
from groundup.rag.index import RagIndex
from groundup.rag.routes import rag_router
from groundup.serve import protocol as P
from groundup.serve.server import OpenAIServer
from groundup.serve.streaming import EngineFailure


async def served_chat(server: OpenAIServer, messages: list[dict], max_tokens: int) -> str:
    """The served model's greedy reply to `messages` ({"role", "content"} dicts)."""
    ids = server.prompts.chat_ids([P.ChatMessage(**m) for m in messages])
    params = SamplingParams(temperature=0, max_tokens=max_tokens)
    [stream] = server.engine.submit(server.engine.make_sequences(ids, [params]))
    tokens: list[int] = []
    async for item in stream:
        if item.error:
            raise EngineFailure(item.error)
        tokens += item.token_ids
    return server.tokenizer.decode(tokens)


def mount_rag(server: OpenAIServer, index: RagIndex, max_tokens: int = 200) -> None:
    """Add `POST /v1/rag/query` to `server.app`, with answers from the served model."""

    def answer(question: str, chunks: list[Chunk]) -> rag_answer.Answer:
        messages = rag_answer.messages(question, chunks)
        text = from_thread.run(served_chat, server, messages, max_tokens)
        return rag_answer.grounded(text, chunks)

    server.app.include_router(rag_router(index, answer))
