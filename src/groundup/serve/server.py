"""The OpenAI-compatible HTTP server (FastAPI): /v1/models, /v1/models/{id}, /v1/completions,
/v1/chat/completions, /health and /metrics. The engine sees token ids; here text goes in (prompt, chat
template: `serve/prompts.py`) and out (`serve/streaming.py`: incremental detokenization, stop
strings, usage, server-sent events; each endpoint's choice shapes in `serve/responses.py`). Errors use
OpenAI's body `{"error": {"message", "type", "param", "code"}}` with a 4xx/5xx status. A request is
checked once, by the engine's `RequestLimits`; its `RequestError` names the field (`param`) and the
`code`.

The event loop only does I/O: the API key and the body size are checked from the headers before the
application runs (`serve/guards.py`: a body over `ServerConfig.max_body_bytes` is refused before it
is read), and tokenizing and chat rendering run on worker threads (`serve/workers.py`), so /health
answers at once however large or slow the requests in flight are.
"""

from __future__ import annotations

import threading
import time

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from groundup.errors import GroundupError
from groundup.generate import SamplingParams
from groundup.serve import protocol as P
from groundup.serve.async_engine import AsyncEngine
from groundup.serve.config import ServerConfig
from groundup.serve.guards import BearerAuth, BodyLimit, BodyTooLarge
from groundup.serve.limits import RequestError
from groundup.serve.prompts import Prepared, PromptBuilder
from groundup.serve.responses import ChatRenderer, CompletionRenderer
from groundup.serve.streaming import EngineFailure, Renderer, choice_events, respond
from groundup.serve.workers import Workers
from groundup.tokenizers.protocol import Tokenizer


class APIError(Exception):
    def __init__(self, status: int, message: str, type: str = "invalid_request_error", param=None, code=None):
        self.status, self.body = status, P.ErrorBody(message=message, type=type, param=param, code=code)


def error_response(status: int, body: P.ErrorBody) -> JSONResponse:
    return JSONResponse(P.ErrorResponse(error=body).model_dump(), status_code=status)


def _union_tag(part) -> bool:
    """pydantic's name for a union member in an error's loc ("str", "list[int]"), not a field."""
    return isinstance(part, str) and (part in ("str", "int", "float", "bool") or "[" in part)


def validation_error(exc: RequestValidationError) -> P.ErrorBody:
    """A 400 body for a request pydantic refused: the first error's field is the `param`; a body that
    is not JSON at all is said so, with no field to name."""
    errors = exc.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        where = first.get("loc", ("body", "?"))[-1]
        reason = first.get("ctx", {}).get("error", "JSON decode error")
        message = f"the request body is not valid JSON ({reason} at character {where}); send a JSON object"
        return P.ErrorBody(message=message, type="invalid_request_error")

    def field(e) -> str:  # the loc after "body", without pydantic's union-member tags ("list[str]")
        return ".".join(str(x) for x in e.get("loc", ())[1:] if not _union_tag(x))

    messages = {}  # one message per field (a union reports each member's failure)
    for e in errors:
        messages.setdefault(field(e) or "body", e.get("msg"))
    message = "; ".join(f"{where}: {msg}" for where, msg in messages.items())
    return P.ErrorBody(message=message, type="invalid_request_error", param=field(first) or None)


class OpenAIServer:
    """Holds the engine, tokenizer and model name; `app` is the FastAPI application."""

    def __init__(
        self,
        engine: AsyncEngine,
        tokenizer: Tokenizer,
        model_name: str,
        api_key: str | None = None,
        config: ServerConfig | None = None,
    ):
        self.engine, self.tokenizer, self.model_name, self.api_key = engine, tokenizer, model_name, api_key
        self.config = config = config or ServerConfig()
        self.prompts = PromptBuilder(engine, tokenizer, config.max_prompt_chars, config.max_batch_prompts)
        self.workers = Workers(config.tokenizer_threads)
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
            return error_response(400, validation_error(exc))

        @app.exception_handler(BodyTooLarge)
        async def _too_large(_, exc: BodyTooLarge):
            return Response(exc.body(), status_code=413, media_type="application/json")

        @app.exception_handler(StarletteHTTPException)
        async def _http(_, exc: StarletteHTTPException):
            return error_response(
                exc.status_code, P.ErrorBody(message=str(exc.detail), type="invalid_request_error")
            )

        app.add_middleware(BearerAuth, api_key=self.api_key)
        app.add_middleware(BodyLimit, max_bytes=self.config.max_body_bytes)  # outermost: before all else
        app.get("/health")(self.health)
        app.get("/metrics")(self.metrics)
        app.get("/v1/models")(self.models)
        app.get("/v1/models/{model_id:path}")(self.model)
        app.post("/v1/completions")(self.completions)
        app.post("/v1/chat/completions")(self.chat_completions)
        return app

    async def health(self):
        return {"status": "ok"}

    async def metrics(self):
        return PlainTextResponse(self.engine.render_metrics(), media_type="text/plain; version=0.0.4")

    async def models(self):
        return P.ModelList(data=[P.ModelCard(id=self.model_name)])

    async def model(self, model_id: str):
        self._check_model(model_id)
        return P.ModelCard(id=self.model_name)

    # -- endpoints ---------------------------------------------------------------------------------
    async def completions(self, req: P.CompletionRequest):
        self._check_model(req.model)
        params_for = self._params_for(req, default_max=16)
        prepared = await self._prepare(req, self.prompts.completion, req.prompt, params_for, req.echo)
        echoes = [text for text in prepared.texts for _ in range(req.n)]  # choice i*n + j: prompt i
        return await self._respond(req, prepared, CompletionRenderer(self.tokenizer, req.logprobs, echoes))

    async def chat_completions(self, req: P.ChatCompletionRequest):
        self._check_model(req.model)
        if field := req.unsupported_field():
            raise APIError(
                400,
                f"{field} is not supported by this server (plain text generation only); remove it",
                param=field,
                code="unsupported_parameter",
            )
        params_for = self._params_for(req, default_max=512)
        prepared = await self._prepare(req, self.prompts.chat, req.messages, params_for, prompt="messages")
        return await self._respond(req, prepared, ChatRenderer(self.tokenizer, req.logprobs, req.n))

    async def _respond(self, req: P.SamplingFields, prepared: Prepared, renderer: Renderer):
        events = choice_events(self.engine, prepared.groups, self.tokenizer, req.stop_list())
        return await respond(events, renderer, req, self.model_name, prepared.prompt_tokens)

    # -- requests -> sequences ----------------------------------------------------------------------
    def _check_model(self, model: str) -> None:
        if model != self.model_name:
            raise APIError(
                404,
                f"model {model!r} does not exist; this server serves {self.model_name!r}",
                param="model",
                code="model_not_found",
            )

    async def _prepare(self, req: P.SamplingFields, build, *args, prompt: str = "prompt") -> Prepared:
        """`build(*args)` (a PromptBuilder method) on a worker thread. Its RequestError becomes a 400
        naming the field as this request spelled it (the chat endpoint's prompt is its `messages`)."""
        try:
            return await self.workers.run(build, *args)
        except RequestError as exc:
            param = {"prompt": prompt, "max_tokens": req.token_limit_field()}.get(exc.param, exc.param)
            raise APIError(400, str(exc), param=param, code=exc.code) from exc

    def _params_for(self, req: P.SamplingFields, default_max: int):
        """prompt length -> the n SamplingParams of one prompt (the output limit defaults to what the
        prompt leaves, capped at `default_max`)."""
        limit = req.max_tokens or req.max_completion_tokens
        if req.max_tokens and req.max_completion_tokens and req.max_tokens != req.max_completion_tokens:
            raise APIError(
                400,
                f"max_tokens ({req.max_tokens}) and max_completion_tokens ({req.max_completion_tokens}) "
                "differ; send one of them (max_completion_tokens is the newer name of max_tokens)",
                param="max_completion_tokens",
            )

        def params_for(prompt_len: int) -> list[SamplingParams]:
            max_tokens = limit or self.engine.limits.default_max_tokens(prompt_len, default_max)
            return [
                SamplingParams(
                    temperature=req.temperature,
                    top_k=req.top_k,
                    top_p=req.top_p,
                    max_tokens=max_tokens,
                    seed=None if req.seed is None else req.seed + i,
                )
                for i in range(req.n)
            ]

        return params_for


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
