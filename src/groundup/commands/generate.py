"""`groundup generate "prompt"` and `groundup chat`: the bundled SmolLM2 (or --model PATH) end to end,
through our GGUF reader, tokenizer, Llama and sampler."""

from __future__ import annotations

import argparse
import sys
import time

from groundup.argtypes import float_range, non_negative_int, positive_int

# `groundup.generate.loading.WEIGHTS` (not imported here: that module imports torch, and --help must not)
WEIGHT_CHOICES = ("auto", "float", "float32", "bfloat16", "int8", "int4")
WEIGHTS_HELP = (
    "how the weights are kept: auto = each GGUF tensor in its closest fast form (Q4 -> int4, Q8_0 -> int8, "
    "exact, our kernels); float32/bfloat16 = dequantized; int8/int4 = every layer in that width"
)


def add_weights_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", choices=WEIGHT_CHOICES, default="auto", help=WEIGHTS_HELP)


def add_model_arguments(parser: argparse.ArgumentParser, compile_option: bool = False) -> None:
    parser.add_argument(
        "--model",
        default=None,
        help="a GGUF Llama file, a `groundup train gpt` run directory or a `groundup quantize --out` "
        "directory (default: the bundled SmolLM2)",
    )
    add_weights_argument(parser)
    parser.add_argument(
        "--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    if compile_option:
        parser.add_argument(
            "--compile",
            action="store_true",
            help="torch.compile the single-token decode step (slow to compile on a CPU; see `groundup profile`)",
        )


def load_model(args: argparse.Namespace):
    """(model, tokenizer, seconds) for --model or the bundled SmolLM2 (`groundup.generate.load_model`)."""
    import torch

    from groundup.generate.loading import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    model, tokenizer = load_model(args.model, weights=getattr(args, "weights", "float"))
    if getattr(args, "compile", False):
        from groundup.models.static_decode import enable_static_decode

        if not hasattr(model, "decode_step"):
            raise ValueError("--compile: this model has no static decode step (Llama models do)")
        enable_static_decode(model)
    return model, tokenizer, time.perf_counter() - start


def _sampling_arguments(parser: argparse.ArgumentParser, max_tokens: int) -> None:
    parser.add_argument("--max-tokens", type=positive_int, default=max_tokens, help="most tokens to generate")
    parser.add_argument("--temperature", type=float_range(0), default=0.7, help="0 = greedy")
    parser.add_argument(
        "--top-k", type=non_negative_int, default=0, help="keep the k most likely tokens (0 = off)"
    )
    parser.add_argument(
        "--top-p", type=float_range(0, 1, low_open=True), default=0.9, help="nucleus mass to keep (1 = off)"
    )
    parser.add_argument(
        "--min-p", type=float_range(0, 1), default=0.0, help="drop tokens below min_p x top probability"
    )
    parser.add_argument(
        "--repetition-penalty",
        type=float_range(0, low_open=True),
        default=1.0,
        help="> 1 discourages repeats",
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (same seed, same output)")
    parser.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    parser.add_argument(
        "--truncate", action="store_true", help="left-truncate a prompt longer than the context"
    )


def _params(args):
    from groundup.generate import SamplingParams

    return SamplingParams(
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        min_p=args.min_p,
        repetition_penalty=args.repetition_penalty,
        max_tokens=args.max_tokens,
        stop=tuple(args.stop),
        seed=args.seed,
    )


def run_generate(args: argparse.Namespace) -> int:
    from groundup.generate import render_chat, stream

    params = _params(args)  # validate before the slow load
    model, tokenizer, load_s = load_model(args)
    text = args.prompt
    if args.chat:
        text = render_chat(tokenizer.chat_template, [{"role": "user", "content": text}])
    prompt = tokenizer.encode(text)
    start, first, n = time.perf_counter(), None, 0
    if not args.chat:  # a continuation reads on from its prompt; a chat answer stands alone
        print(args.prompt, end="", flush=True)
    pieces = []
    for event in stream(model, prompt, params, tokenizer, truncate=args.truncate):
        first = first or time.perf_counter()
        n += 1
        pieces.append(event.text)
        if args.stream:
            print(event.text, end="", flush=True)
    if not args.stream:
        print("".join(pieces), end="")
    elapsed = time.perf_counter() - start
    decode_s = time.perf_counter() - first if first else 0.0
    print()
    compiled = getattr(getattr(model, "decode_step", None), "compile_seconds", None)
    print(
        f"[{len(prompt)} prompt tokens, {n} generated in {elapsed:.2f}s: "
        f"{(n - 1) / decode_s if n > 1 and decode_s else 0:.1f} tokens/s decode; model loaded in {load_s:.1f}s"
        f" ({args.weights} weights){f'; decode step compiled in {compiled:.1f}s' if compiled else ''}]",
        file=sys.stderr,
    )
    return 0


def run_chat(args: argparse.Namespace) -> int:
    from groundup.generate import render_chat, stream

    params = _params(args)
    model, tokenizer, _ = load_model(args)
    messages = [{"role": "system", "content": args.system}] if args.system else []
    print("groundup chat: type a message; /reset clears the conversation, /exit quits.", file=sys.stderr)
    while True:
        try:
            line = input("> ").strip()
        except EOFError:
            print()
            return 0
        if line in ("/exit", "/quit"):
            return 0
        if line == "/reset":
            messages = messages[:1] if args.system else []
            print("(conversation cleared)", file=sys.stderr)
            continue
        if not line:
            continue
        messages.append({"role": "user", "content": line})
        prompt = tokenizer.encode(render_chat(tokenizer.chat_template, messages))
        reply = []
        for event in stream(model, prompt, params, tokenizer, truncate=True):
            print(event.text, end="", flush=True)
            reply.append(event.text)
        print()
        messages.append({"role": "assistant", "content": "".join(reply)})


def register(subparsers) -> None:
    p = subparsers.add_parser("generate", help="continue a prompt with the bundled SmolLM2 (or --model)")
    p.add_argument("prompt", help="text to continue")
    _sampling_arguments(p, max_tokens=64)
    p.add_argument("--stream", action="store_true", help="print tokens as they are generated")
    p.add_argument(
        "--chat", action="store_true", help="wrap the prompt as a user message with the chat template"
    )
    add_model_arguments(p, compile_option=True)
    p.set_defaults(func=run_generate)

    p = subparsers.add_parser("chat", help="interactive chat with streaming replies (/reset, /exit)")
    _sampling_arguments(p, max_tokens=256)
    p.add_argument("--system", default=None, help="system message (default: the template's own)")
    add_model_arguments(p, compile_option=True)
    p.set_defaults(func=run_chat)
