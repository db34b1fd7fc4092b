"""The lab's web app: static pages (`pages/`) and one JSON endpoint per page.

    GET  /api/info          the model and tokenizers the pages use
    GET  /api/progress      the curriculum dashboard                         (dashboard.py)
    POST /api/tokenize      {text} -> tokens under each tokenizer            (tokens.py)
    POST /api/next-token    {prompt, temperature, top_k, top_p, show}        (next_token.py)
    POST /api/attention     {text, layer}                                    (attention.py)
    POST /api/chat          {messages, temperature, top_p, max_tokens} -> server-sent events (chat.py)
    POST /api/kv-blocks     {prompts, num_blocks, block_size, max_tokens}    (kv_blocks.py)

A bad value is a 400 with {"error": "..."} naming it; the pages show that message. The endpoints are
plain (sync) functions: FastAPI runs them on its worker threads, so a model forward never blocks the
event loop that serves the pages.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from groundup.errors import GroundupError
from groundup.lab import attention, chat, dashboard, kv_blocks, next_token, tokens
from groundup.lab.state import LabState

PAGES = Path(__file__).parent / "pages"


class TokenizeRequest(BaseModel):
    text: str = Field(max_length=tokens.MAX_CHARS)


class NextTokenRequest(BaseModel):
    prompt: str = Field(min_length=1, max_length=4000)
    temperature: float = Field(1.0, ge=0, le=5)
    top_k: int = Field(0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    show: int = Field(20, ge=1, le=200)


class AttentionRequest(BaseModel):
    text: str = Field(min_length=1, max_length=1000)
    layer: int | None = Field(None, ge=0)


class Message(BaseModel):
    role: str = Field(pattern="^(system|user|assistant)$")
    content: str = Field(max_length=8000)


class ChatRequest(BaseModel):
    messages: list[Message] = Field(min_length=1, max_length=50)
    temperature: float = Field(0.7, ge=0, le=5)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(96, ge=1, le=chat.MAX_REPLY_TOKENS)


class KVBlocksRequest(BaseModel):
    prompts: list[str] = Field(
        default_factory=lambda: list(kv_blocks.DEFAULT_PROMPTS), min_length=1, max_length=8
    )
    num_blocks: int = Field(24, ge=4, le=256)
    block_size: int = Field(4, ge=1, le=64)
    max_tokens: int = Field(12, ge=1, le=64)
    stagger: int = Field(3, ge=0, le=20)


def create_app(state: LabState | None = None, results_path: Path | None = None) -> FastAPI:
    """The lab's FastAPI app over `state` (the bundled SmolLM2, loaded on first use, by default)."""
    state = state or LabState()
    app = FastAPI(title="groundup lab", docs_url="/api/docs", redoc_url=None)

    @app.exception_handler(ValueError)
    @app.exception_handler(GroundupError)
    async def bad_value(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.get("/api/info")
    def info() -> dict:
        return {
            "model": state.model_path or "SmolLM2-135M-Instruct (bundled)",
            "tokenizers": list(state.tokenizer_names),
        }

    @app.get("/api/progress")
    def progress() -> dict:
        return dashboard.progress_payload(results_path)

    @app.post("/api/tokenize")
    def tokenize(req: TokenizeRequest) -> dict:
        return tokens.compare_tokenizers(state.named_tokenizers(), req.text)

    @app.post("/api/next-token")
    def next_tokens(req: NextTokenRequest) -> dict:
        model, tokenizer = state.model_and_tokenizer()
        return next_token.next_token_table(model, tokenizer, req.prompt, **req.model_dump(exclude={"prompt"}))

    @app.post("/api/attention")
    def attention_maps(req: AttentionRequest) -> dict:
        model, tokenizer = state.model_and_tokenizer()
        return attention.attention_payload(model, tokenizer, req.text, req.layer)

    @app.post("/api/chat")
    def chat_stream(req: ChatRequest) -> StreamingResponse:
        model, tokenizer = state.model_and_tokenizer()
        messages = [m.model_dump() for m in req.messages]
        events = chat.chat_events(
            model,
            tokenizer,
            messages,
            temperature=req.temperature,
            top_p=req.top_p,
            max_tokens=req.max_tokens,
        )
        lines = (f"data: {json.dumps(event)}\n\n" for event in events)
        return StreamingResponse(lines, media_type="text/event-stream")

    @app.post("/api/kv-blocks")
    def kv_block_timeline(req: KVBlocksRequest) -> dict:
        model, tokenizer = state.model_and_tokenizer()
        arrivals = [
            kv_blocks.Arrival(
                i * req.stagger,
                prompt,
                req.max_tokens - 4 * (i % 2) if req.max_tokens > 4 else req.max_tokens,
            )
            for i, prompt in enumerate(req.prompts)
        ]
        return kv_blocks.kv_timeline(
            model, tokenizer, arrivals, num_blocks=req.num_blocks, block_size=req.block_size
        )

    app.mount("/", StaticFiles(directory=PAGES, html=True), name="pages")
    return app
