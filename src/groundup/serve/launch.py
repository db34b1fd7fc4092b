"""Load a model and its tokenizer, build the engine and serve it over HTTP (what `groundup serve`
runs). Binds the loopback interface unless told otherwise.

The listening socket is bound first, before the model loads: a port in use (or not ours to take) is
a one-line error at once, not after the load. SIGTERM or Ctrl-C stop accepting connections, give the
requests in flight `ServerConfig.shutdown_grace` seconds to finish, abort the rest and exit.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from groundup.errors import GroundupError
from groundup.serve.config import EngineConfig, ServerConfig


def load_engine(
    model_path: str | os.PathLike | None = None, config: EngineConfig | None = None, weights: str = "float"
):
    """(Engine, tokenizer, model name) for anything `groundup.generate.load_model` loads: a GGUF file,
    a `groundup train gpt` run directory, or the bundled SmolLM2 (None); `weights` as there."""
    from groundup.data import smollm2_gguf_path
    from groundup.generate.loading import load_model
    from groundup.serve.engine import Engine

    model, tokenizer = load_model(model_path, weights=weights)
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    name = Path(model_path or smollm2_gguf_path()).stem
    return Engine(model, config, eos_token_ids=eos), tokenizer, name


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) and listening; GroundupError naming the address if it cannot be."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise GroundupError(
            f"cannot listen on {host}:{port}: {reason}; choose another --port (or stop the program using it)"
        ) from None


def serve(
    model_path: str | os.PathLike | None = None,
    config: EngineConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    model_name: str | None = None,
    server_config: ServerConfig | None = None,
    weights: str = "float",
    rag_index: str | os.PathLike | None = None,
) -> None:
    """Run the OpenAI-compatible server until SIGTERM or Ctrl-C (`weights`: see `load_model`;
    `rag_index`: a `groundup rag index` folder to answer `POST /v1/rag/query` from)."""
    import uvicorn

    from groundup.serve.async_engine import AsyncEngine
    from groundup.serve.server import OpenAIServer

    server_config = server_config or ServerConfig()
    sock = listen(host, port)
    try:
        engine, tokenizer, default_name = load_engine(model_path, config, weights)
    except BaseException:
        sock.close()
        raise
    async_engine = AsyncEngine(engine).start()
    name = model_name or default_name
    server = OpenAIServer(async_engine, tokenizer, name, api_key=api_key, config=server_config)
    if rag_index is not None:
        from groundup.rag.dense import Embedder
        from groundup.rag.index import RagIndex
        from groundup.serve.rag_mount import mount_rag

        try:
            mount_rag(server, RagIndex.open(rag_index, Embedder()))
        except BaseException:
            async_engine.shutdown()
            sock.close()
            raise
    bound_host, bound_port = sock.getsockname()[:2]
    bound_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    print(f"serving {name!r} on http://{bound_host}:{bound_port}/v1 (Ctrl-C to stop)", flush=True)
    http = uvicorn.Config(
        server.app, log_level="info", timeout_graceful_shutdown=server_config.shutdown_grace
    )
    try:
        uvicorn.Server(http).run(sockets=[sock])
    finally:
        async_engine.shutdown()
