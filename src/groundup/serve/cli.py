"""`groundup serve`: the OpenAI-compatible HTTP server over the paged-KV engine."""

from __future__ import annotations

import argparse
import os


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve a GGUF model over an OpenAI-compatible HTTP API",
        description="Continuous batching, paged KV cache with prefix caching, optional speculative "
        "decoding. Endpoints: /v1/models, /v1/completions, /v1/chat/completions, /health, /metrics.",
    )
    p.add_argument("--model", help="GGUF file (default: the bundled SmolLM2-135M-Instruct)")
    p.add_argument("--model-name", help="the model id clients send (default: the file name)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-running", type=int, default=32, help="most sequences decoded together")
    p.add_argument("--kv-blocks", type=int, default=1024, help="KV pool size in blocks")
    p.add_argument("--block-size", type=int, default=16, help="tokens per KV block")
    p.add_argument("--max-tokens-per-step", type=int, default=512, help="per-step token budget")
    p.add_argument("--speculative", choices=["ngram", "draft"], help="prompt lookup or layer-skip self-draft")
    p.add_argument("--num-speculative-tokens", type=int, default=4, help="most draft tokens per step")
    p.add_argument("--no-prefix-caching", action="store_true", help="turn prefix caching off")
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
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        model_name=args.model_name,
        kv_blocks=args.kv_blocks,
        block_size=args.block_size,
        max_running=args.max_running,
        max_tokens_per_step=args.max_tokens_per_step,
        speculative=args.speculative,
        num_speculative_tokens=args.num_speculative_tokens,
        prefix_caching=not args.no_prefix_caching,
    )
    return 0
