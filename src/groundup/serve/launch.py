"""Load a GGUF model and its tokenizer, build the engine and serve it over HTTP (what `groundup
serve` runs). Binds the loopback interface unless told otherwise."""

from __future__ import annotations

import os
from pathlib import Path


def load_engine(
    model_path: str | os.PathLike | None = None,
    *,
    kv_blocks: int = 1024,
    block_size: int = 16,
    max_running: int = 32,
    max_tokens_per_step: int = 512,
    speculative: str | None = None,
    num_speculative_tokens: int = 4,
    continuous: bool = True,
    prefix_caching: bool = True,
):
    """(Engine, tokenizer, model name) for a GGUF file (the bundled SmolLM2 by default)."""
    from groundup.data import smollm2_gguf_path
    from groundup.models.llama import Llama
    from groundup.serve.engine import Engine, EngineConfig
    from groundup.tokenizers import from_gguf

    path = Path(model_path) if model_path else smollm2_gguf_path()
    model = Llama.from_gguf(path)
    tokenizer = from_gguf(path)
    config = EngineConfig(
        num_blocks=kv_blocks,
        block_size=block_size,
        max_running=max_running,
        max_tokens_per_step=max_tokens_per_step,
        continuous=continuous,
        prefix_caching=prefix_caching,
        speculative=speculative,
        num_speculative_tokens=num_speculative_tokens,
    )
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    return Engine(model, config, eos_token_ids=eos), tokenizer, path.stem


def serve(
    model_path=None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    model_name: str | None = None,
    **engine_kwargs,
) -> None:
    """Run the OpenAI-compatible server until interrupted."""
    import uvicorn

    from groundup.serve.async_engine import AsyncEngine
    from groundup.serve.server import OpenAIServer

    engine, tokenizer, default_name = load_engine(model_path, **engine_kwargs)
    async_engine = AsyncEngine(engine).start()
    server = OpenAIServer(async_engine, tokenizer, model_name or default_name, api_key=api_key)
    print(f"serving {model_name or default_name!r} on http://{host}:{port}/v1 (Ctrl-C to stop)")
    try:
        uvicorn.run(server.app, host=host, port=port, log_level="info")
    finally:
        async_engine.shutdown()
