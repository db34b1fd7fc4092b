"""`groundup ppl --dataset wikitext2 --split test`: sliding-window perplexity of a model (`--model`:
a GGUF file or a `groundup train gpt` run; default the bundled SmolLM2)."""

from __future__ import annotations

import argparse
import time

from groundup.argtypes import UsageError, int_range, non_negative_int, positive_int


def run_ppl(args: argparse.Namespace) -> int:
    from groundup.commands.generate import load_model
    from groundup.data import load_text
    from groundup.eval import perplexity

    if args.stride > args.context:
        raise UsageError(f"--stride ({args.stride}) must not exceed --context ({args.context})")
    text = load_text(args.dataset, args.split)
    model, tokenizer, _ = load_model(args)
    # ~4 characters per token in English: encode only what the token budget needs
    ids = tokenizer.encode(text[: 8 * args.tokens] if args.tokens else text, add_bos=False)
    ids = ids[: args.tokens] if args.tokens else ids
    start = time.perf_counter()
    result = perplexity(model, ids, args.context, args.stride, progress=True)
    elapsed = time.perf_counter() - start
    print(
        f"{args.dataset}/{args.split}: perplexity {result.perplexity:.3f} (nll {result.nll:.4f}) over "
        f"{result.n_tokens} tokens, {result.n_windows} windows of {result.context_length} every {result.stride} "
        f"({elapsed:.1f}s)"
    )
    return 0


def register(subparsers) -> None:
    from groundup.commands.generate import add_model_arguments

    p = subparsers.add_parser("ppl", help="perplexity of the model on a corpus (sliding window)")
    p.add_argument("--dataset", default="wikitext2", help="text corpus (wikitext2, tinyshakespeare)")
    p.add_argument("--split", default="test", help="corpus split")
    p.add_argument("--tokens", type=non_negative_int, default=4096, help="score the first N tokens (0: all)")
    p.add_argument("--context", type=int_range(2), default=1024, help="window length in tokens")
    p.add_argument("--stride", type=positive_int, default=512, help="tokens between window starts")
    add_model_arguments(p)
    p.set_defaults(func=run_ppl)
