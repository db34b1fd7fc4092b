"""`groundup serve`: the OpenAI-compatible HTTP server over the paged-KV engine.

The engine flags are derived from `EngineConfig`'s fields (type, default, choices), so the parser and
the dataclass cannot drift apart; the command builds one `EngineConfig` and hands it to `launch.serve`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os

from groundup.serve.config import SPECULATIVE, EngineConfig

# flag -> (EngineConfig field, help); `--no-prefix-caching` turns the boolean field off
ENGINE_FLAGS = {
    "--max-running": ("max_running", "most sequences decoded together"),
    "--kv-blocks": ("num_blocks", "KV pool size in blocks"),
    "--block-size": ("block_size", "tokens per KV block"),
    "--max-tokens-per-step": ("max_tokens_per_step", "per-step token budget"),
    "--speculative": ("speculative", "prompt lookup (ngram) or layer-skip self-draft (draft)"),
    "--num-speculative-tokens": ("num_speculative_tokens", "most draft tokens per step"),
    "--no-prefix-caching": ("prefix_caching", "turn prefix caching off"),
}


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per ENGINE_FLAGS entry, typed and defaulted by its EngineConfig field."""
    defaults = {f.name: f.default for f in dataclasses.fields(EngineConfig)}
    for flag, (name, help) in ENGINE_FLAGS.items():
        default = defaults[name]
        if isinstance(default, bool):  # a switch that is on by default: `--no-X` turns it off
            parser.add_argument(flag, dest=name, action="store_false", help=help)
            continue
        kind = dict(choices=SPECULATIVE) if name == "speculative" else dict(type=type(default))
        metavar = None if name == "speculative" else flag[2:].upper().replace("-", "_")
        shown = f" (default: {default})" if default is not None else ""
        parser.add_argument(flag, dest=name, default=default, metavar=metavar, help=help + shown, **kind)


def engine_config(args: argparse.Namespace) -> EngineConfig:
    return EngineConfig(**{name: getattr(args, name) for name, _ in ENGINE_FLAGS.values()})


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve a model over an OpenAI-compatible HTTP API",
        description="Continuous batching, paged KV cache with prefix caching, optional speculative "
        "decoding. Endpoints: /v1/models, /v1/completions, /v1/chat/completions, /health, /metrics.",
    )
    p.add_argument(
        "--model",
        help="a GGUF file or a `groundup train gpt --out DIR` run directory "
        "(default: the bundled SmolLM2-135M-Instruct)",
    )
    p.add_argument("--model-name", help="the model id clients send (default: the file or directory name)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=8000)
    add_engine_arguments(p)
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument(
        "--api-key",
        default=os.environ.get("GROUNDUP_API_KEY"),
        help="require 'Authorization: Bearer KEY' on /v1 (default: $GROUNDUP_API_KEY, else none)",
    )
    p.set_defaults(func=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    from groundup.serve.launch import serve

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    serve(
        args.model,
        engine_config(args),
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        model_name=args.model_name,
    )
    return 0
