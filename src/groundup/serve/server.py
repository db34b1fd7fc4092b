"""The OpenAI-compatible HTTP server (FastAPI): /v1/models, /v1/completions, /v1/chat/completions,
/health and /metrics. The engine sees token ids; here text goes in (prompt, chat template) and out
(`serve/streaming.py`: incremental detokenization, stop strings, usage, server-sent events; each
endpoint's choice shapes in `serve/responses.py`). Errors use OpenAI's body
`{"error": {"message", "type", "param", "code"}}` with a 4xx/5xx status. A request is checked once,
by the engine's `RequestLimits`; its `RequestError` names the field (`param`) and the `code`.
"""

from __future__ import annotations

import threading
import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from groundup.errors import GroundupError
from groundup.generate import SamplingParams
from groundup.generate.chat import render_chat
from groundup.serve import protocol as P
from groundup.serve.async_engine import AsyncEngine
from groundup.serve.limits import RequestError
from groundup.serve.responses import ChatRenderer, CompletionRenderer
from groundup.serve.streaming import EngineFailure, Renderer, choice_events, respond
from groundup.tokenizers.protocol import Tokenizer


class APIError(Exception):
    def __init__(self, status: int, message: str, type: str = "invalid_request_error", param=None, code=None):
        self.status, self.body = status, P.ErrorBody(message=message, type=type, param=param, code=code)


def error_response(status: int, body: P.ErrorBody) -> JSONResponse:
    return JSONResponse(P.ErrorResponse(error=body).model_dump(), status_code=status)


class OpenAIServer:
    """Holds the engine, tokenizer and model name; `app` is the FastAPI application."""

    def __init__(
        self, engine: AsyncEngine, tokenizer: Tokenizer, model_name: str, api_key: str | None = None
    ):
        self.engine, self.tokenizer, self.model_name, self.api_key = engine, tokenizer, model_name, api_key
        self.app = self._build()

    # -- plumbing ---------------------------------------------------------------------------------
    def _build(self) -> FastAPI:
        app = FastAPI(title="groundup", description=__doc__)

        @app.exception_handler(APIError)
        async def _api_error(_, exc: APIError):
            return error_response(exc.status, exc.body)

        @app.exception_handler(EngineFailure)
        async def _engine_failure(_, exc: EngineFailure):
            return error_response(500, P.ErrorBody(message=str(exc), type="server_error"))

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
        return PlainTextResponse(self.engine.render_metrics(), media_type="text/plain; version=0.0.4")

    async def models(self):
        return P.ModelList(data=[P.ModelCard(id=self.model_name)])

    # -- endpoints ---------------------------------------------------------------------------------
    async def completions(self, req: P.CompletionRequest):
        self._check_model(req)
        text = req.prompt if isinstance(req.prompt, str) else None
        prompt_ids = list(req.prompt) if text is None else self._encode(text, "prompt")
        seqs = self._sequences(req, prompt_ids, default_max=16, prompt_param="prompt")
        echo = ""
        if req.echo:
            echo = text if text is not None else self.tokenizer.decode(prompt_ids)
        return await self._respond(
            req, seqs, len(prompt_ids), CompletionRenderer(self.tokenizer, req.logprobs, echo)
        )

    async def chat_completions(self, req: P.ChatCompletionRequest):
        self._check_model(req)
        prompt_ids = self._encode(self._render_chat(req.messages), "messages")
        seqs = self._sequences(req, prompt_ids, default_max=512, prompt_param="messages")
        return await self._respond(
            req, seqs, len(prompt_ids), ChatRenderer(self.tokenizer, req.logprobs, req.n)
        )

    async def _respond(self, req: P.SamplingFields, seqs, prompt_tokens: int, renderer: Renderer):
        events = choice_events(self.engine, seqs, self.tokenizer, req.stop_list())
        return await respond(events, renderer, req, self.model_name, prompt_tokens)

    # -- requests -> sequences ----------------------------------------------------------------------
    def _check_model(self, req: P.SamplingFields) -> None:
        if req.model != self.model_name:
            raise APIError(
                404,
                f"model {req.model!r} does not exist; this server serves {self.model_name!r}",
                param="model",
                code="model_not_found",
            )

    def _encode(self, text: str, param: str) -> list[int]:
        try:
            return self.tokenizer.encode(text)
        except GroundupError as exc:  # e.g. a character outside a character-level model's vocabulary
            raise APIError(400, str(exc), param=param) from exc

    def _render_chat(self, messages: list[P.ChatMessage]) -> str:
        tok = self.tokenizer
        if not tok.chat_template:
            raise APIError(
                400,
                f"model {self.model_name!r} has no chat template, so it cannot take chat messages; "
                "send a text prompt to /v1/completions instead",
                param="messages",
            )

        def name(token_id):
            return tok.id_to_token(token_id) if token_id is not None else ""

        try:
            return render_chat(
                tok.chat_template,
                [m.model_dump() for m in messages],
                bos_token=name(tok.bos_token_id),
                eos_token=name(tok.eos_token_id),
            )
        except GroundupError as exc:
            raise APIError(400, str(exc), param="messages") from exc

    def _sequences(self, req: P.SamplingFields, prompt_ids: list[int], default_max: int, prompt_param: str):
        """The request's n sequences, checked by the engine (the one check); its RequestError becomes a
        400 naming the field (the chat endpoint's prompt is its `messages`)."""
        if req.max_tokens is not None:
            max_tokens = req.max_tokens
        else:
            max_tokens = self.engine.limits.default_max_tokens(len(prompt_ids), default_max)
        params = [
            SamplingParams(
                temperature=req.temperature,
                top_k=req.top_k,
                top_p=req.top_p,
                max_tokens=max_tokens,
                seed=None if req.seed is None else req.seed + i,
            )
            for i in range(req.n)
        ]
        try:
            return self.engine.make_sequences(prompt_ids, params)
        except RequestError as exc:
            param = prompt_param if exc.param == "prompt" else exc.param
            raise APIError(400, str(exc), param=param, code=exc.code) from exc


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
