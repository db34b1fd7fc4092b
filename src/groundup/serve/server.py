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
from groundup.serve.responses import ChatRenderer, CompletionRenderer, PromptScore
from groundup.serve.streaming import EngineFailure, Renderer, choice_events, respond
from groundup.serve.workers import Workers
from groundup.tokenizers.protocol import Tokenizer

PROTECTED = ("/v1/", "/tokenize", "/detokenize", "/tokenizer_info")  # need the API key, if one is set


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

        app.add_middleware(BearerAuth, api_key=self.api_key, prefixes=PROTECTED)
        app.add_middleware(BodyLimit, max_bytes=self.config.max_body_bytes)  # outermost: before all else
        app.get("/health")(self.health)
        app.get("/metrics")(self.metrics)
        app.get("/v1/models")(self.models)
        app.get("/v1/models/{model_id:path}")(self.model)
        app.post("/v1/completions")(self.completions)
        app.post("/v1/chat/completions")(self.chat_completions)
        app.post("/tokenize")(self.tokenize)
        app.post("/detokenize")(self.detokenize)
        app.get("/tokenizer_info")(self.tokenizer_info)
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

    # -- tokenizer helpers (vLLM's; lm-evaluation-harness's `remote` tokenizer uses them) ------------
    async def tokenize(self, req: P.TokenizeRequest):
        if (req.prompt is None) == (req.messages is None):
            raise APIError(400, "send either a text `prompt` or chat `messages` to tokenize", param="prompt")
        build, arg = (
            (self.prompts.text_ids, req.prompt)
            if req.messages is None
            else (self.prompts.chat_ids, req.messages)
        )
        ids = await self._prepare(req, build, arg)
        return P.TokenizeResponse(
            tokens=ids, count=len(ids), max_model_len=self.engine.limits.max_tokens_total
        )

    async def detokenize(self, req: P.DetokenizeRequest):
        vocab = self.engine.limits.vocab_size
        if any(not 0 <= t < vocab for t in req.tokens):
            raise APIError(400, f"token ids must lie in [0, {vocab}) for this model", param="tokens")
        return P.DetokenizeResponse(prompt=await self.workers.run(self.tokenizer.decode, req.tokens))

    async def tokenizer_info(self):
        """The special tokens and chat template, as vLLM's /tokenizer_info reports them."""
        tok = self.tokenizer

        def name(token_id):
            return tok.id_to_token(token_id) if token_id is not None else None

        return {
            "eos_token": name(tok.eos_token_id),
            "bos_token": name(tok.bos_token_id),
            "pad_token": None,
            "chat_template": tok.chat_template,
            "model_max_length": self.engine.limits.max_tokens_total,
        }

    # -- endpoints ---------------------------------------------------------------------------------
    async def completions(self, req: P.CompletionRequest):
        self._check_model(req.model)
        best = self._best_of(req)
        params_for = self._params_for(req, default_max=16, count=best, top=req.logprobs)
        prepared = await self._prepare(
            req, self.prompts.completion, req.prompt, params_for, req.echo, req.token_bias()
        )
        echoes = [text for text in prepared.texts for _ in range(req.n)] if req.echo else None  # i*n + j
        scores = None
        if req.echo and req.logprobs is not None:
            scores = [await self._score(g[0].prompt_ids, req.logprobs) for g in prepared.groups]
            scores = [score for score in scores for _ in range(req.n)]
        renderer = CompletionRenderer(self.tokenizer, req.logprobs, echoes, scores)
        return await self._respond(req, prepared, renderer, keep=(req.n, best) if best > req.n else None)

    async def _score(self, prompt_ids: list[int], top: int) -> PromptScore:
        return PromptScore(prompt_ids, *await self.engine.prompt_logprobs(prompt_ids, top))

    def _best_of(self, req: P.CompletionRequest) -> int:
        """How many completions to generate per prompt (`best_of`, at least n)."""
        best = req.best_of or req.n
        if best < req.n:
            raise APIError(400, f"best_of ({best}) must be >= n ({req.n})", param="best_of")
        if best > req.n and req.stream:
            raise APIError(400, "best_of > n cannot be streamed; set stream to false", param="best_of")
        return best

    async def chat_completions(self, req: P.ChatCompletionRequest):
        self._check_model(req.model)
        if field := req.unsupported_field():
            raise APIError(
                400,
                f"{field} is not supported by this server (plain text generation only); remove it",
                param=field,
                code="unsupported_parameter",
            )
        top = (req.top_logprobs or 0) if req.logprobs else None
        params_for = self._params_for(req, default_max=512, top=top)
        prepared = await self._prepare(
            req, self.prompts.chat, req.messages, params_for, req.token_bias(), prompt="messages"
        )
        renderer = ChatRenderer(self.tokenizer, req.logprobs, req.n, top or 0)
        return await self._respond(req, prepared, renderer)

    async def _respond(self, req: P.SamplingFields, prepared: Prepared, renderer: Renderer, keep=None):
        events = choice_events(self.engine, prepared.groups, self.tokenizer, req.stop_list())
        return await respond(events, renderer, req, self.model_name, prepared.prompt_tokens, keep)

    # -- requests -> sequences ----------------------------------------------------------------------
    def _check_model(self, model: str) -> None:
        if model != self.model_name:
            raise APIError(
                404,
                f"model {model!r} does not exist; this server serves {self.model_name!r}",
                param="model",
                code="model_not_found",
            )

    async def _prepare(self, req, build, *args, prompt: str = "prompt"):
        """`build(*args)` (a PromptBuilder method) on a worker thread. Its RequestError becomes a 400
        naming the field as this request spelled it (the chat endpoint's prompt is its `messages`)."""
        try:
            return await self.workers.run(build, *args)
        except RequestError as exc:
            limit = req.token_limit_field() if isinstance(req, P.SamplingFields) else "max_tokens"
            param = {"prompt": prompt, "max_tokens": limit}.get(exc.param, exc.param)
            raise APIError(400, str(exc), param=param, code=exc.code) from exc

    def _params_for(self, req: P.SamplingFields, default_max: int, count: int | None = None, top=None):
        """prompt length -> the `count` (default n) SamplingParams of one prompt (the output limit
        defaults to what the prompt leaves, capped at `default_max`); `top`: how many alternatives
        to report per token (logprobs), None for none."""
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
                    logprobs=top,
                    ignore_eos=req.ignore_eos,
                )
                for i in range(count or req.n)
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
