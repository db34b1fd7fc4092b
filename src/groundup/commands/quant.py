"""`groundup quant ...`: the quantization capstones, plus `quant report` from `commands/quant_llm.py`.

Reports go to ./groundup-out/quant-<name>/ (or --out); `--write-docs` regenerates the committed ones in
docs/notes/1.1-capstone/.
"""

from __future__ import annotations

import argparse

from groundup.argtypes import positive_int
from groundup.commands.compress import capstone_options, run
from groundup.commands.quant_llm import add_quant_subcommands

DOCS = "docs/notes/1.1-capstone"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "quant", help="quantization capstones on real MNIST (basic INT8 quantizer, QAT vs PTQ)"
    )
    quant_subparsers = p.add_subparsers(dest="quant_command", metavar="SUBCOMMAND", required=True)

    b = quant_subparsers.add_parser(
        "basics", help="capstone 1.1: LeNet-5 FP32 vs INT8 per-tensor / per-channel, sizes and histograms"
    )
    common(b, "quant-basics")
    b.set_defaults(func=basics_command)

    q = quant_subparsers.add_parser("qat-vs-ptq", help="QAT vs PTQ with 4/3/2-bit weights on LeNet-5")
    common(q, "quant-qat-vs-ptq")
    q.add_argument(
        "--qat-epochs", type=positive_int, default=1, help="fine-tuning epochs with fake quantization"
    )
    q.set_defaults(func=qat_command)

    add_quant_subcommands(quant_subparsers)


def common(p: argparse.ArgumentParser, command: str) -> None:
    capstone_options(p, command, DOCS, 6, "FP32 training epochs")


def basics_command(args: argparse.Namespace) -> int:
    from groundup.quant.basic_quantizer import main

    return run(args, main)


def qat_command(args: argparse.Namespace) -> int:
    from groundup.quant.qat_vs_ptq import main

    return run(args, main, qat_epochs=args.qat_epochs)
