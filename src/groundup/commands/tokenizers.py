"""`groundup tokenize train|encode|stats`: train a BPE, show a text's tokens, measure compression."""

from __future__ import annotations

import argparse
import sys
import time

from groundup.argtypes import positive_int

# Alternating background colours for token boundaries on a terminal.
COLORS = ("\x1b[48;5;153m", "\x1b[48;5;223m", "\x1b[48;5;194m", "\x1b[48;5;225m")
RESET = "\x1b[0m"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("tokenize", help="train a BPE tokenizer, encode text, measure compression")
    sub = p.add_subparsers(dest="tokenize_command", metavar="ACTION", required=True)

    t = sub.add_parser("train", help="train a byte-level BPE on a text file")
    t.add_argument("file", help="UTF-8 text to train on")
    t.add_argument(
        "--vocab-size", type=positive_int, required=True, help="final vocabulary size (>= 256: the bytes)"
    )
    t.add_argument("--pattern", default="gpt4", help="split pattern: gpt4, gpt2, none (BasicBPE) or a regex")
    t.add_argument(
        "-o", "--output", required=True, help="output file (groundup-bpe; *.tiktoken for a rank file)"
    )
    t.set_defaults(func=train_command)

    e = sub.add_parser("encode", help="print token ids and show token boundaries")
    e.add_argument("text", help="text to encode")
    e.add_argument("--tokenizer", default="cl100k", help="cl100k, smollm2, minilm, or a tokenizer file")
    e.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour the pieces")
    e.set_defaults(func=encode_command)

    s = sub.add_parser("stats", help="tokens, bytes per token and compression of a text file")
    s.add_argument("file", help="UTF-8 text file")
    s.add_argument("--tokenizer", default="cl100k", help="cl100k, smollm2, minilm, or a tokenizer file")
    s.set_defaults(func=stats_command)


def train_command(args: argparse.Namespace) -> int:
    from groundup.data import read_text_file
    from groundup.outputs import prepare_file
    from groundup.tokenizers.basic import BasicBPE
    from groundup.tokenizers.regex_bpe import RegexBPE

    tok = BasicBPE() if args.pattern == "none" else RegexBPE(args.pattern)
    text = read_text_file(args.file, "a UTF-8 text file to train on")
    prepare_file(args.output, "--output")  # before the training, not after
    start = time.perf_counter()
    tok.train(text, args.vocab_size)
    seconds = time.perf_counter() - start
    if args.output.endswith(".tiktoken"):
        tok.save_tiktoken(args.output)
    else:
        tok.save(args.output)
    print(
        f"learned {len(tok.merges)} merges from {len(text.encode()):,} bytes in {seconds:.2f}s -> {args.output}"
    )
    if len(tok.merges) < args.vocab_size - 256:
        print(
            f"stopped early at vocabulary {256 + len(tok.merges)}: every chunk of the text is already one token"
        )
    return 0


def encode_command(args: argparse.Namespace) -> int:
    from groundup.tokenizers.loaders import load_named
    from groundup.tokenizers.stats import ids_and_pieces

    ids, pieces = ids_and_pieces(load_named(args.tokenizer), args.text)
    pieces = [p.replace("\n", "\\n").replace("\t", "\\t") for p in pieces]  # keep one line
    print(ids)
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    if color:
        print("".join(f"{COLORS[i % len(COLORS)]}{p}{RESET}" for i, p in enumerate(pieces)))
    else:
        print("|".join(pieces))
    print(f"{len(ids)} tokens")
    return 0


def stats_command(args: argparse.Namespace) -> int:
    from groundup.data import read_text_file
    from groundup.tokenizers.loaders import load_named
    from groundup.tokenizers.stats import text_stats

    tokenizer = load_named(args.tokenizer)
    s = text_stats(tokenizer, read_text_file(args.file, "a UTF-8 text file to measure"))
    print(f"characters        {s.characters:,}")
    print(f"bytes (UTF-8)     {s.bytes:,}")
    print(f"tokens            {s.tokens:,}")
    print(f"bytes per token   {s.bytes_per_token:.3f}")
    print(f"chars per token   {s.chars_per_token:.3f}")
    print(f"compression       {s.bytes_per_token:.2f}x fewer symbols than one per byte")
    return 0
