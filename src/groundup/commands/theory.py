"""`groundup theory hessian|landscape|double-descent|info-plane|approximation|bounds`: the 0.9 studies.

Each trains small models on real data (MNIST 5k, scikit-learn's digits) and writes report.md with its
plots to ./groundup-out/theory-<name>/ (or --out); `--write-docs` regenerates docs/notes/0.9-theory/<name>/.
"""

from __future__ import annotations

import argparse

from groundup.argtypes import int_range, non_negative_int, positive_int
from groundup.outputs import add_out_option

DOCS = "docs/notes/0.9-theory"
STUDIES = {
    "hessian": (
        "Hessian spectrum of an MNIST MLP over training (Lanczos, power iteration, Hutchinson)",
        "hessian_study",
    ),
    "landscape": (
        "filter-normalized 2-D loss slices and 1-D interpolation: ResNet vs plain",
        "landscape_study",
    ),
    "double-descent": (
        "random-features min-norm regression and a width sweep through p = n",
        "double_descent_study",
    ),
    "info-plane": ("I(X;T) and I(T;Y) per layer over training, binned and KDE", "info_plane_study"),
    "approximation": (
        "universal approximation: error vs width, and the sawtooth that needs depth",
        "approximation_study",
    ),
    "bounds": ("a PAC-Bayes bound for an MNIST network and Rademacher complexity", "pac_bayes_study"),
}
# the 0.10 paper re-runs: `groundup theory paper NAME`, reports in docs/notes/0.10-papers/<name>/
PAPERS = {
    "adam": (
        "Adam vs SGD+Nesterov/AdaGrad/RMSProp on MNIST and the bias-correction ablation",
        "adam:adam_study",
    ),
    "layernorm": (
        "LayerNorm vs BatchNorm vs none in an RNN language model on Shakespeare",
        "layernorm:layernorm_study",
    ),
    "gpt1": (
        "GPT-1 pretraining + fine-tuning with the auxiliary LM loss vs from scratch; SmolLM2 zero-shot",
        "gpt1:gpt1_study",
    ),
    "resnet": ("the degradation problem: plain vs residual networks at two depths", "resnet:resnet_study"),
    "scaling": (
        "scaling-law fits L(N), L(D) and the compute-optimal frontier, tiny GPTs",
        "scaling:scaling_study",
    ),
    "bert": (
        "MLM + NSP pretraining vs from scratch on a WikiText-2 sentence-pair task, and the NSP ablation",
        "bert:bert_study",
    ),
    "transformer": (
        "encoder-decoder on a WikiText-2 cipher task: BLEU, heads, positions, label smoothing",
        "transformer:transformer_study",
    ),
}
EPOCHS = {
    "hessian": 8,
    "landscape": 2,
    "info-plane": 400,
    "bounds": 10,
    "adam": 5,
    "resnet": 3,
    "transformer": 30,
}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("theory", help="theory tools measured on real networks (curriculum 0.9)")
    sub = p.add_subparsers(dest="theory_command", metavar="SUBCOMMAND", required=True)
    for name, (help_text, function) in STUDIES.items():
        s = sub.add_parser(name, help=help_text)
        add_out_option(s, f"theory-{name}", docs=f"{DOCS}/{name}")
        common(s, name)
        if name == "landscape":
            s.add_argument("--depth", type=int_range(8), default=20, help="6n+2 layers (20, 32, 56, ...)")
        s.set_defaults(func=run, study=function)
    paper = sub.add_parser(
        "paper", help="re-run a foundational paper's experiment at small scale (curriculum 0.10)"
    )
    papers = paper.add_subparsers(dest="paper_command", metavar="PAPER", required=True)
    for name, (help_text, function) in PAPERS.items():
        s = papers.add_parser(name, help=help_text)
        add_out_option(s, f"paper-{name}", docs=f"docs/notes/0.10-papers/{name}")
        common(s, name)
        s.set_defaults(func=run, study=function)


def common(s: argparse.ArgumentParser, name: str) -> None:
    s.add_argument("--seed", type=non_negative_int, default=0, help="random seed")
    s.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads")
    if name in EPOCHS:
        s.add_argument("--epochs", type=positive_int, default=EPOCHS[name], help="training epochs")


def run(args: argparse.Namespace) -> int:
    from groundup.outputs import chosen_dir, writing_to

    if getattr(args, "depth", None) is not None and (args.depth - 2) % 6:
        from groundup.argtypes import UsageError

        raise UsageError(f"--depth must be 6n + 2 (20, 32, 44, 56, ...), got {args.depth}")
    with writing_to(chosen_dir(args)) as out:
        import importlib

        import torch

        module, _, function = args.study.rpartition(":")
        study = importlib.import_module(
            f"groundup.theory.papers.{module}" if module else "groundup.theory.study"
        )
        torch.set_num_threads(args.threads)
        kwargs = {"seed": args.seed}
        for option in ("epochs", "depth"):
            if getattr(args, option, None) is not None:
                kwargs[option] = getattr(args, option)
        print(getattr(study, function)(out, **kwargs).read_text())
    return 0
