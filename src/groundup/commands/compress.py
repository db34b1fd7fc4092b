"""`groundup compress prune|distill|lora`: the compression capstones on real MNIST.

Reports go to ./groundup-out/compress-<name>/ (or --out); `--write-docs` regenerates the committed ones
in docs/notes/1.3-capstone/<name>/.
"""

from __future__ import annotations

import argparse

from groundup.argtypes import float_range, non_negative_int, positive_int
from groundup.outputs import add_out_option

DOCS = "docs/notes/1.3-capstone"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("compress", help="pruning, distillation and LoRA capstones on real MNIST")
    sub = p.add_subparsers(dest="compress_command", metavar="SUBCOMMAND", required=True)

    prune = sub.add_parser("prune", help="magnitude pruning at 30/50/70/90%%, one-shot vs iterative")
    common(prune, "prune", epochs=5)
    prune.add_argument("--finetune-epochs", type=positive_int, default=2, help="fine-tuning epochs")
    prune.add_argument("--rounds", type=positive_int, default=2, help="rounds of iterative pruning")
    prune.set_defaults(func=prune_command)

    distill = sub.add_parser(
        "distill", help="wide LeNet-5 teacher -> small MLP student vs the student trained alone"
    )
    common(distill, "distill", epochs=20)
    distill.add_argument(
        "--teacher-epochs", type=positive_int, default=4, help="teacher training epochs (--epochs: student)"
    )
    distill.add_argument(
        "--temperature", type=float_range(0, low_open=True), default=2.0, help="softmax temperature (> 0)"
    )
    distill.add_argument(
        "--alpha", type=float_range(0, 1), default=0.5, help="weight of the soft-target term, in [0, 1]"
    )
    distill.set_defaults(func=distill_command)

    lora = sub.add_parser("lora", help="LoRA vs full fine-tuning on rotated digits")
    common(lora, "lora", epochs=5)
    lora.add_argument("--adapt-epochs", type=positive_int, default=3, help="adaptation epochs")
    lora.add_argument("--ranks", type=positive_int, nargs="+", default=[2, 8], help="LoRA ranks to compare")
    lora.add_argument(
        "--lora-lr",
        type=float_range(0, low_open=True),
        default=1e-2,
        help="Adam learning rate of the adapters",
    )
    lora.set_defaults(func=lora_command)


def common(p: argparse.ArgumentParser, name: str, epochs: int) -> None:
    capstone_options(p, f"compress-{name}", f"{DOCS}/{name}", epochs, "training epochs of the base model")


def capstone_options(
    p: argparse.ArgumentParser, command: str, docs: str, epochs: int, epochs_help: str
) -> None:
    """--out/--write-docs, --epochs, --seed and --threads: the options every MNIST capstone takes
    (`groundup compress ...`, `groundup quant ...`)."""
    add_out_option(p, command, docs=docs)
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=epochs,
        help=f"{epochs_help} (trained models are cached in ~/.cache/groundup/capstones)",
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


def prune_command(args: argparse.Namespace) -> int:
    from groundup.compress.prune_study import main

    return run(args, main, finetune_epochs=args.finetune_epochs, rounds=args.rounds)


def distill_command(args: argparse.Namespace) -> int:
    from groundup.compress.distill_study import main

    return run(args, main, teacher_epochs=args.teacher_epochs, temperature=args.temperature, alpha=args.alpha)


def lora_command(args: argparse.Namespace) -> int:
    from groundup.compress.lora_study import main

    return run(args, main, adapt_epochs=args.adapt_epochs, ranks=tuple(args.ranks), lora_lr=args.lora_lr)
