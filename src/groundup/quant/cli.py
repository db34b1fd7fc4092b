"""`groundup quant ...`: the quantization capstones (and, when present, groundup.quant.llm's commands)."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "quant", help="quantization capstones on real MNIST (basic INT8 quantizer, QAT vs PTQ)"
    )
    quant_subparsers = p.add_subparsers(dest="quant_command", metavar="SUBCOMMAND", required=True)

    b = quant_subparsers.add_parser(
        "basics", help="capstone 1.1: LeNet-5 FP32 vs INT8 per-tensor / per-channel, sizes and histograms"
    )
    common(b, "docs/notes/1.1-capstone")
    b.set_defaults(func=basics_command)

    q = quant_subparsers.add_parser("qat-vs-ptq", help="QAT vs PTQ with 4/3/2-bit weights on LeNet-5")
    common(q, "docs/notes/1.1-capstone")
    q.add_argument("--qat-epochs", type=int, default=1, help="fine-tuning epochs with fake quantization")
    q.set_defaults(func=qat_command)

    if importlib.util.find_spec("groundup.quant.llm") and importlib.util.find_spec("groundup.quant.llm.cli"):
        from groundup.quant.llm.cli import add_quant_subcommands

        add_quant_subcommands(quant_subparsers)


def common(p: argparse.ArgumentParser, out: str) -> None:
    p.add_argument("--out", type=Path, default=Path(out), help=f"report folder (default: {out})")
    p.add_argument(
        "--epochs",
        type=int,
        default=6,
        help="FP32 training epochs (the trained model is cached in ~/.cache/groundup/capstones)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")


def basics_command(args: argparse.Namespace) -> int:
    import torch

    from groundup.quant.basic_quantizer import main

    torch.set_num_threads(args.threads)
    print(main(args.out, epochs=args.epochs, seed=args.seed).read_text())
    return 0


def qat_command(args: argparse.Namespace) -> int:
    import torch

    from groundup.quant.qat_vs_ptq import main

    torch.set_num_threads(args.threads)
    print(main(args.out, epochs=args.epochs, qat_epochs=args.qat_epochs, seed=args.seed).read_text())
    return 0
