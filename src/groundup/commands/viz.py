"""`groundup viz attention "TEXT"`: the attention weights of every layer and head as PNG grids."""

from __future__ import annotations

import argparse
from pathlib import Path

from groundup.argtypes import UsageError, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    viz = subparsers.add_parser("viz", help="visualise what a model computes (attention patterns)")
    sub = viz.add_subparsers(dest="viz_command", required=True)
    attention = sub.add_parser(
        "attention",
        help="per layer/head attention heatmaps for a text",
        description="Run TEXT through a model with an explicit-softmax attention backend and write "
        "layer_XX.png (one heatmap per head), overview.png (all layers x heads), heads.json and "
        "attention.md (entropy, first-token and previous-token share per head) into --out.",
    )
    attention.add_argument("text", help="the text whose attention to show")
    attention.add_argument(
        "--model",
        default=None,
        help="a GGUF file or a `groundup train gpt --out` run directory (default: the bundled SmolLM2)",
    )
    attention.add_argument("--out", type=Path, default=Path("attention"), help="output directory")
    attention.add_argument(
        "--max-tokens", type=positive_int, default=64, help="keep at most this many tokens of TEXT"
    )
    attention.add_argument(
        "--layers",
        default="",
        help="comma-separated layer numbers to draw one grid each (default: every layer; the overview "
        "always shows all)",
    )
    attention.set_defaults(func=attention_command)


def attention_command(args: argparse.Namespace) -> int:
    from groundup.generate import load_model
    from groundup.models.attention_maps import write_attention_report

    model, tokenizer = load_model(args.model)
    ids = tokenizer.encode(args.text)[: args.max_tokens]
    text = tokenizer.decode(ids)
    name = Path(args.model).name if args.model else "SmolLM2"
    try:
        layers = [int(x) for x in args.layers.split(",") if x.strip()] or None
    except ValueError:
        raise UsageError(f"--layers: expected comma-separated integers, got {args.layers!r}") from None
    result = write_attention_report(model, tokenizer, text, args.out, name, layers=layers)
    print(f"{result['layers']} layers x {result['heads']} heads over {len(result['tokens'])} tokens")
    print(f"report: {args.out / 'attention.md'}")
    return 0
