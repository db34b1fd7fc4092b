"""`groundup serve`: the OpenAI-compatible HTTP server over the paged-KV engine; `groundup route`: the
router over several of them (`serve/router.py`).

The engine and server flags are derived from `EngineConfig`'s and `ServerConfig`'s fields (type,
default, choices), so the parser and the dataclasses cannot drift apart; counts are range-checked by
argparse (`groundup.argtypes`), so a bad value is a usage error before anything loads. The command
builds the two configs and hands them to `launch.serve`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os

from groundup.argtypes import float_range, non_negative_int, port, positive_int
from groundup.commands.generate import add_weights_argument
from groundup.serve.config import SPECULATIVE, EngineConfig, ServerConfig

# flag -> (config field, help); `--no-prefix-caching` turns the boolean field off
ENGINE_FLAGS = {
    "--max-running": ("max_running", "most sequences decoded together"),
    "--kv-blocks": ("num_blocks", "KV pool size in blocks"),
    "--block-size": ("block_size", "tokens per KV block"),
    "--max-tokens-per-step": ("max_tokens_per_step", "per-step token budget"),
    "--speculative": ("speculative", "prompt lookup (ngram) or layer-skip self-draft (draft)"),
    "--num-speculative-tokens": ("num_speculative_tokens", "most draft tokens per step"),
    "--no-prefix-caching": ("prefix_caching", "turn prefix caching off"),
}
SERVER_FLAGS = {
    "--max-body-bytes": ("max_body_bytes", "larger request bodies get 413, before they are read"),
    "--max-prompt-chars": ("max_prompt_chars", "longer prompts get 400, before they are tokenized"),
    "--max-batch-prompts": ("max_batch_prompts", "most prompts in one completions request"),
    "--tokenizer-threads": ("tokenizer_threads", "requests tokenized at once, off the event loop"),
    "--shutdown-grace": ("shutdown_grace", "seconds requests in flight get to finish after SIGTERM"),
}
CAN_BE_ZERO = {"shutdown_grace"}
POSITIVE_SECONDS = float_range(0, low_open=True)


def add_config_arguments(parser: argparse.ArgumentParser, config: type, flags: dict) -> None:
    """One option per `flags` entry, typed and defaulted by its field of the `config` dataclass."""
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    for flag, (name, help) in flags.items():
        default = defaults[name]
        if isinstance(default, bool):  # a switch that is on by default: `--no-X` turns it off
            parser.add_argument(flag, dest=name, action="store_false", help=help)
            continue
        if name == "speculative":
            kind = dict(choices=SPECULATIVE)
        else:
            kind = dict(type=non_negative_int if name in CAN_BE_ZERO else positive_int)
        metavar = None if name == "speculative" else flag[2:].upper().replace("-", "_")
        shown = f" (default: {default})" if default is not None else ""
        parser.add_argument(flag, dest=name, default=default, metavar=metavar, help=help + shown, **kind)


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, EngineConfig, ENGINE_FLAGS)


def engine_config(args: argparse.Namespace) -> EngineConfig:
    return EngineConfig(**{name: getattr(args, name) for name, _ in ENGINE_FLAGS.values()})


def server_config(args: argparse.Namespace) -> ServerConfig:
    return ServerConfig(**{name: getattr(args, name) for name, _ in SERVER_FLAGS.values()})


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve a model over an OpenAI-compatible HTTP API",
        description="Continuous batching, paged KV cache with prefix caching, optional speculative "
        "decoding. Endpoints: /v1/models, /v1/completions, /v1/chat/completions, /health, /metrics.",
    )
    p.add_argument(
        "--model",
        help="a GGUF file, a `groundup train gpt --out DIR` run directory or a `groundup quantize --out DIR` "
        "(default: the bundled SmolLM2-135M-Instruct)",
    )
    p.add_argument("--model-name", help="the model id clients send (default: the file or directory name)")
    add_weights_argument(p)
    p.add_argument(
        "--rag-index",
        default=None,
        metavar="DIR",
        help="a `groundup rag index` folder: adds POST /v1/rag/query, answered by the served model "
        "(default: none)",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    p.add_argument("--port", type=port, default=8000, help="TCP port (0: any free port)")
    add_engine_arguments(p)
    add_config_arguments(p, ServerConfig, SERVER_FLAGS)
    p.add_argument("--threads", type=positive_int, help="torch threads (default: torch's choice)")
    p.add_argument(
        "--api-key",
        default=os.environ.get("GROUNDUP_API_KEY"),
        help="require 'Authorization: Bearer KEY' on /v1 (default: $GROUNDUP_API_KEY, else none)",
    )
    p.set_defaults(func=serve_command)
    register_route(subparsers)
    register_loadtest(subparsers)


def register_route(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "route",
        help="route OpenAI API requests over several `groundup serve` replicas",
        description="Prefix-affinity routing (requests sharing a prompt prefix go to one replica's "
        "prefix cache), least-outstanding fallback, health checks and ejection, retries of requests "
        "that had not started answering, streaming pass-through; 503 when no replica is healthy.",
    )
    p.add_argument("--replicas", nargs="+", required=True, metavar="URL", help="replica base URLs")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    p.add_argument("--port", type=port, default=8080, help="TCP port (default: 8080; 0: any free port)")
    p.add_argument(
        "--policy",
        choices=("affinity", "round_robin", "least"),
        default="affinity",
        help="how a replica is chosen: prefix affinity with a least-outstanding fallback, or a baseline",
    )
    p.add_argument("--prefix-chars", type=positive_int, default=256, help="prompt characters hashed")
    p.add_argument("--slack", type=non_negative_int, default=4, help="load gap before affinity yields")
    p.add_argument(
        "--health-interval", type=POSITIVE_SECONDS, default=1.0, help="seconds between health checks"
    )
    p.set_defaults(func=route_command)


def route_command(args: argparse.Namespace) -> int:
    from groundup.serve.router import route

    route(
        args.replicas,
        host=args.host,
        port=args.port,
        policy=args.policy,
        prefix_chars=args.prefix_chars,
        slack=args.slack,
        health_interval=args.health_interval,
    )
    return 0


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
        server_config=server_config(args),
        weights=args.weights,
        rag_index=args.rag_index,
    )
    return 0


def register_loadtest(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "loadtest",
        help="measure an OpenAI-compatible server under Poisson load (TTFT, TPOT, ITL, E2E, goodput)",
        description="Open-loop Poisson arrivals at each rate, streamed completions with log-normal prompt "
        "and output lengths; prints a Markdown table of p50/p90/p99 latencies, throughput and goodput "
        "under the SLO, and with --out writes loadtest.json and a latency-vs-load plot.",
    )
    p.add_argument("--url", required=True, help="server base URL (e.g. http://127.0.0.1:8000)")
    p.add_argument("--model", required=True, help="the model id the server expects")
    p.add_argument(
        "--rates", type=POSITIVE_SECONDS, nargs="+", default=[0.5, 1.0, 2.0], help="requests per second"
    )
    p.add_argument("--requests", type=positive_int, default=32, help="requests per rate")
    p.add_argument("--slo-ttft", type=POSITIVE_SECONDS, default=1.0, help="TTFT bound of the SLO, seconds")
    p.add_argument(
        "--slo-tpot", type=POSITIVE_SECONDS, default=0.1, help="TPOT bound of the SLO, s per token"
    )
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--out", help="folder for loadtest.json and loadtest.png")
    p.set_defaults(func=loadtest_command)


def loadtest_command(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from groundup.serve import loadgen

    rows = loadgen.as_dicts(
        loadgen.sweep(
            args.url, args.model, args.rates, args.requests, args.slo_ttft, args.slo_tpot, args.seed
        )
    )
    print(loadgen.table(rows))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "loadtest.json").write_text(json.dumps(rows, indent=1))
        loadgen.plot({args.model: rows}, out / "loadtest.png")
        print(f"wrote {out / 'loadtest.json'} and {out / 'loadtest.png'}")
    return 0
