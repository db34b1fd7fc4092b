"""Load a model and its tokenizer, build the engine and serve it over HTTP (what `groundup serve`
runs). Binds the loopback interface unless told otherwise."""

from __future__ import annotations

import os
from pathlib import Path

from groundup.serve.config import EngineConfig


def load_engine(model_path: str | os.PathLike | None = None, config: EngineConfig | None = None):
    """(Engine, tokenizer, model name) for anything `groundup.generate.load_model` loads: a GGUF file,
    a `groundup train gpt` run directory, or the bundled SmolLM2 (None)."""
    from groundup.data import smollm2_gguf_path
    from groundup.generate.loading import load_model
    from groundup.serve.engine import Engine

    model, tokenizer = load_model(model_path)
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    name = Path(model_path or smollm2_gguf_path()).stem
    return Engine(model, config, eos_token_ids=eos), tokenizer, name


def serve(
    model_path: str | os.PathLike | None = None,
    config: EngineConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    model_name: str | None = None,
) -> None:
    """Run the OpenAI-compatible server until interrupted."""
    import uvicorn

    from groundup.serve.async_engine import AsyncEngine
    from groundup.serve.server import OpenAIServer

    engine, tokenizer, default_name = load_engine(model_path, config)
    async_engine = AsyncEngine(engine).start()
    server = OpenAIServer(async_engine, tokenizer, model_name or default_name, api_key=api_key)
    print(f"serving {model_name or default_name!r} on http://{host}:{port}/v1 (Ctrl-C to stop)")
    try:
        uvicorn.run(server.app, host=host, port=port, log_level="info")
    finally:
        async_engine.shutdown()
