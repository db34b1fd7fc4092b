"""`groundup quant ...`: the quantization capstones, plus `quant report` from `commands/quant_llm.py`.

Reports go to ./groundup-out/quant-<name>/ (or --out); `--write-docs` regenerates the committed ones in
docs/notes/1.1-capstone/.
"""

from __future__ import annotations

import argparse

from groundup.argtypes import non_negative_int, positive_int
from groundup.commands.quant_llm import add_quant_subcommands
from groundup.outputs import add_out_option

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
    add_out_option(p, command, docs=DOCS)
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=6,
        help="FP32 training epochs (the trained model is cached in ~/.cache/groundup/capstones)",
    )
    p.add_argument("--seed", type=non_negative_int, default=0, help="random seed")
    p.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads")


def run(args: argparse.Namespace, main, **kwargs) -> int:
    """Run a capstone's `main(out, epochs=, seed=, **kwargs)` into the chosen folder (checked first)."""
    from groundup.outputs import chosen_dir, writing_to

    with writing_to(chosen_dir(args)) as out:
        import torch

        torch.set_num_threads(args.threads)
        print(main(out, epochs=args.epochs, seed=args.seed, **kwargs).read_text())
    return 0


def basics_command(args: argparse.Namespace) -> int:
    from groundup.quant.basic_quantizer import main

    return run(args, main)


def qat_command(args: argparse.Namespace) -> int:
    from groundup.quant.qat_vs_ptq import main

    return run(args, main, qat_epochs=args.qat_epochs)
