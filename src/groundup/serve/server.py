"""The OpenAI-compatible HTTP server (FastAPI): /v1/models, /v1/completions, /v1/chat/completions,
/health and /metrics. The engine sees token ids; here text goes in (prompt, chat template) and out
(incremental detokenization, stop strings, logprobs, usage). Streaming is server-sent events, one
`data: {json}` per chunk, ending with `data: [DONE]`. Errors use OpenAI's body
`{"error": {"message", "type", "param", "code"}}` with a 4xx/5xx status.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from groundup.errors import GroundupError
from groundup.generate import SamplingParams
from groundup.generate.chat import render_chat
from groundup.generate.decode import TextTracker  # incremental text + stop strings
from groundup.serve import protocol as P
from groundup.serve.async_engine import AsyncEngine


class APIError(Exception):
    def __init__(self, status: int, message: str, type: str = "invalid_request_error", param=None, code=None):
        self.status, self.body = status, P.ErrorBody(message=message, type=type, param=param, code=code)


def error_response(status: int, body: P.ErrorBody) -> JSONResponse:
    return JSONResponse(P.ErrorResponse(error=body).model_dump(), status_code=status)


@dataclass
class Choice:
    """One of the `n` generations of a request, as text."""

    index: int
    text: TextTracker
    finish_reason: str | None = None
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)


class OpenAIServer:
    """Holds the engine, tokenizer and model name; `app` is the FastAPI application."""

    def __init__(self, engine: AsyncEngine, tokenizer, model_name: str, api_key: str | None = None):
        self.engine, self.tokenizer, self.model_name, self.api_key = engine, tokenizer, model_name, api_key
        self.context = engine.engine.model.max_context
        self.app = self._build()

    # -- plumbing ---------------------------------------------------------------------------------
    def _build(self) -> FastAPI:
        app = FastAPI(title="groundup", description=__doc__)

        @app.exception_handler(APIError)
        async def _api_error(_, exc: APIError):
            return error_response(exc.status, exc.body)

        @app.exception_handler(RequestValidationError)
        async def _invalid(_, exc: RequestValidationError):
            first = exc.errors()[0] if exc.errors() else {}
            where = ".".join(str(x) for x in first.get("loc", ())[1:]) or None
            message = "; ".join(
                f"{'.'.join(str(x) for x in e.get('loc', ())[1:]) or 'body'}: {e.get('msg')}"
                for e in exc.errors()
            )
            return error_response(
                400, P.ErrorBody(message=message, type="invalid_request_error", param=where)
            )

        @app.exception_handler(StarletteHTTPException)
        async def _http(_, exc: StarletteHTTPException):
            return error_response(
                exc.status_code, P.ErrorBody(message=str(exc.detail), type="invalid_request_error")
            )

        @app.middleware("http")
        async def _auth(request: Request, call_next):
            if self.api_key and request.url.path.startswith("/v1/"):
                if request.headers.get("authorization") != f"Bearer {self.api_key}":
                    body = P.ErrorBody(
                        message="missing or wrong API key; send 'Authorization: Bearer KEY'",
                        type="authentication_error",
                        code="invalid_api_key",
                    )
                    return error_response(401, body)
            return await call_next(request)

        app.get("/health")(self.health)
        app.get("/metrics")(self.metrics)
        app.get("/v1/models")(self.models)
        app.post("/v1/completions")(self.completions)
        app.post("/v1/chat/completions")(self.chat_completions)
        return app

    async def health(self):
        return {"status": "ok"}

    async def metrics(self):
        return PlainTextResponse(self.engine.engine.metrics.render(), media_type="text/plain; version=0.0.4")

    async def models(self):
        return P.ModelList(data=[P.ModelCard(id=self.model_name)])

    # -- requests -> sequences ----------------------------------------------------------------------
    def _check_model(self, req: P.SamplingFields) -> None:
        if req.model != self.model_name:
            raise APIError(
                404,
                f"model {req.model!r} does not exist; this server serves {self.model_name!r}",
                param="model",
                code="model_not_found",
            )

    def _sequences(self, req: P.SamplingFields, prompt_ids: list[int], default_max: int):
        if not prompt_ids:
            raise APIError(400, "the prompt is empty; send at least one token", param="prompt")
        room = self.context - len(prompt_ids)
        if room < 1:
            raise APIError(
                400,
                f"the prompt has {len(prompt_ids)} tokens but the context is {self.context}; shorten it",
                param="messages",
                code="context_length_exceeded",
            )
        max_tokens = req.max_tokens if req.max_tokens is not None else min(default_max, room)
        seqs = []
        try:
            for i in range(req.n):
                params = SamplingParams(
                    temperature=req.temperature,
                    top_k=req.top_k,
                    top_p=req.top_p,
                    max_tokens=max_tokens,
                    seed=None if req.seed is None else req.seed + i,
                )
                seqs.append(self.engine.engine.make_sequence(prompt_ids, params))
        except (GroundupError, ValueError) as exc:
            raise APIError(400, str(exc), param="max_tokens", code="context_length_exceeded") from exc
        return seqs

    async def _run(self, seqs, stops: list[str]) -> AsyncIterator[tuple[Choice, str]]:
        """Drive the n sequences concurrently; yield (choice, new text) as tokens arrive."""
        eos = set(self.engine.engine.eos_token_ids)
        choices = [Choice(i, TextTracker(self.tokenizer, stops)) for i in range(len(seqs))]
        merged: asyncio.Queue = asyncio.Queue()

        async def pump(choice: Choice, seq, q):
            stream = self.engine.stream(seq, q)
            try:
                async for item in stream:
                    if item.error:
                        raise APIError(500, item.error, type="server_error")
                    choice.token_ids += item.token_ids
                    choice.logprobs += item.logprobs
                    delta = ""
                    for t in item.token_ids:
                        if t not in eos and not choice.text.stopped:
                            delta += choice.text.push(t)
                    if item.finished or choice.text.stopped:
                        delta += choice.text.finish()
                    if choice.text.stopped:
                        choice.finish_reason = "stop"
                    elif item.finished:
                        choice.finish_reason = "stop" if item.finish_reason == "abort" else item.finish_reason
                    await merged.put((choice, delta, None))
                    if choice.finish_reason:
                        break
            except Exception as exc:
                await merged.put((choice, "", exc))
            finally:
                await stream.aclose()  # aborts the sequence if it is still running
                await merged.put(None)

        queues = self.engine.submit(seqs)
        tasks = [asyncio.create_task(pump(c, s, q)) for c, s, q in zip(choices, seqs, queues)]
        try:
            done = 0
            while done < len(tasks):
                item = await merged.get()
                if item is None:
                    done += 1
                    continue
                choice, delta, exc = item
                if exc is not None:
                    raise exc
                yield choice, delta
        finally:
            for t in tasks:
                t.cancel()

    def _usage(self, prompt_ids, choices) -> P.Usage:
        completion = sum(len(c.token_ids) for c in choices)
        return P.Usage(
            prompt_tokens=len(prompt_ids),
            completion_tokens=completion,
            total_tokens=len(prompt_ids) + completion,
        )

    def _token_strings(self, ids: list[int]) -> list[str]:
        return [self.tokenizer.decode([t]) for t in ids]

    # -- endpoints ---------------------------------------------------------------------------------
    async def completions(self, req: P.CompletionRequest):
        self._check_model(req)
        prompt_ids = list(req.prompt) if isinstance(req.prompt, list) else self.tokenizer.encode(req.prompt)
        seqs = self._sequences(req, prompt_ids, default_max=16)
        prefix = (
            (req.prompt if isinstance(req.prompt, str) else self.tokenizer.decode(prompt_ids))
            if req.echo
            else ""
        )
        choices: list[Choice] = []

        def logprobs_of(c: Choice):
            if req.logprobs is None:
                return None
            tokens = self._token_strings(c.token_ids)
            offsets, pos = [], len(prefix)
            for t in tokens:
                offsets.append(pos)
                pos += len(t)
            return P.CompletionLogprobs(tokens=tokens, token_logprobs=c.logprobs, text_offset=offsets)

        if req.stream:
            rid, created = P.new_id("cmpl"), int(time.time())

            async def events():
                async for c, delta in self._run(seqs, req.stop_list()):
                    if c not in choices:
                        choices.append(c)
                    if delta or c.finish_reason:
                        choice = P.CompletionChoice(index=c.index, text=delta, finish_reason=c.finish_reason)
                        yield _sse(
                            P.CompletionResponse(
                                id=rid, created=created, model=self.model_name, choices=[choice]
                            )
                        )
                if req.stream_options and req.stream_options.include_usage:
                    chunk = P.CompletionResponse(
                        id=rid,
                        created=created,
                        model=self.model_name,
                        choices=[],
                        usage=self._usage(prompt_ids, choices),
                    )
                    yield _sse(chunk)
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        async for c, _ in self._run(seqs, req.stop_list()):
            if c not in choices:
                choices.append(c)
        choices.sort(key=lambda c: c.index)
        return P.CompletionResponse(
            model=self.model_name,
            choices=[
                P.CompletionChoice(
                    index=c.index,
                    text=prefix + c.text.text,
                    logprobs=logprobs_of(c),
                    finish_reason=c.finish_reason,
                )
                for c in choices
            ],
            usage=self._usage(prompt_ids, choices),
        )

    async def chat_completions(self, req: P.ChatCompletionRequest):
        self._check_model(req)
        prompt_ids = self.tokenizer.encode(self._render_chat(req.messages))
        seqs = self._sequences(req, prompt_ids, default_max=512)
        choices: list[Choice] = []

        def logprobs_of(ids, lps):
            if not req.logprobs:
                return None
            return P.ChoiceLogprobs(
                content=[
                    P.TokenLogprob(token=t, logprob=lp, bytes=list(t.encode()))
                    for t, lp in zip(self._token_strings(ids), lps)
                ]
            )

        if req.stream:
            rid, created = P.new_id("chatcmpl"), int(time.time())

            def chunk(index, delta, finish=None, logprobs=None):
                choice = P.ChatChunkChoice(index=index, delta=delta, finish_reason=finish, logprobs=logprobs)
                return _sse(
                    P.ChatCompletionChunk(id=rid, created=created, model=self.model_name, choices=[choice])
                )

            async def events():
                for i in range(len(seqs)):
                    yield chunk(i, P.DeltaMessage(role="assistant", content=""))
                seen = {}
                async for c, delta in self._run(seqs, req.stop_list()):
                    if c not in choices:
                        choices.append(c)
                    new_ids = c.token_ids[seen.get(c.index, 0) :]
                    lps = logprobs_of(new_ids, c.logprobs[seen.get(c.index, 0) :])
                    seen[c.index] = len(c.token_ids)
                    if delta:
                        yield chunk(c.index, P.DeltaMessage(content=delta), logprobs=lps)
                    if c.finish_reason:
                        yield chunk(c.index, P.DeltaMessage(), finish=c.finish_reason)
                if req.stream_options and req.stream_options.include_usage:
                    usage = P.ChatCompletionChunk(
                        id=rid,
                        created=created,
                        model=self.model_name,
                        choices=[],
                        usage=self._usage(prompt_ids, choices),
                    )
                    yield _sse(usage)
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        async for c, _ in self._run(seqs, req.stop_list()):
            if c not in choices:
                choices.append(c)
        choices.sort(key=lambda c: c.index)
        return P.ChatCompletionResponse(
            model=self.model_name,
            choices=[
                P.ChatChoice(
                    index=c.index,
                    message=P.AssistantMessage(content=c.text.text),
                    logprobs=logprobs_of(c.token_ids, c.logprobs),
                    finish_reason=c.finish_reason,
                )
                for c in choices
            ],
            usage=self._usage(prompt_ids, choices),
        )

    def _render_chat(self, messages: list[P.ChatMessage]) -> str:
        tok = self.tokenizer

        def name(token_id):
            return tok.id_to_token(token_id) if token_id is not None else ""

        try:
            return render_chat(
                getattr(tok, "chat_template", None),
                [m.model_dump() for m in messages],
                bos_token=name(getattr(tok, "bos_token_id", None)),
                eos_token=name(getattr(tok, "eos_token_id", None)),
            )
        except GroundupError as exc:
            raise APIError(400, str(exc), param="messages") from exc


def _sse(model) -> str:
    return f"data: {json.dumps(model.model_dump(exclude_none=False))}\n\n"


class BackgroundServer:
    """uvicorn in a thread (tests, benchmarks): `with BackgroundServer(app) as url: ...`; port 0 picks
    a free port on the loopback interface."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="groundup-http", daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise GroundupError("the HTTP server failed to start (see the log above)")
            time.sleep(0.02)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
