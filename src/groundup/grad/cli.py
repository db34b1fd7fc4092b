"""`groundup grad demo xor|mlp|cnn|optimizers|norms`: the NumPy framework's capstones, each writing a
markdown report with PNG plots into --out."""

from __future__ import annotations

import argparse
from pathlib import Path

DEMOS = ("xor", "mlp", "cnn", "optimizers", "norms", "dropout", "sensitivity", "activations")
DEFAULT_EPOCHS = {
    "xor": 500,
    "mlp": 25,
    "cnn": 12,
    "optimizers": 5,
    "norms": 5,
    "dropout": 40,
    "sensitivity": 3,
    "activations": 1,
}


def register(subparsers: argparse._SubParsersAction) -> None:
    grad = subparsers.add_parser("grad", help="the NumPy autograd framework (groundup.grad)")
    sub = grad.add_subparsers(dest="grad_command", required=True)
    demo = sub.add_parser(
        "demo",
        help="run a capstone and write a markdown report with plots",
        description="xor: 2-layer net with the first forward/backward pass printed; mlp/cnn: MNIST 5k "
        "classifiers; optimizers/norms: loss curves of SGD/momentum/RMSprop/Adam/AdamW or none/Batch/"
        "Layer/GroupNorm on the same MLP; dropout/sensitivity/activations: the explicit Layer API's "
        "studies (train-test gap, lr x width x depth heatmaps, gradient per layer by activation).",
    )
    demo.add_argument("name", choices=DEMOS)
    demo.add_argument(
        "--out", type=Path, default=Path("grad-demo"), help="output directory (default ./grad-demo)"
    )
    demo.add_argument("--epochs", type=int, help="epochs (xor: steps); default depends on the demo")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument(
        "--threads", type=int, default=1, help="BLAS threads (default 1: fastest on a busy machine)"
    )
    demo.set_defaults(func=demo_command)


def demo_command(args: argparse.Namespace) -> int:
    from threadpoolctl import threadpool_limits

    from groundup.grad.demos import mnist, xor

    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    epochs = args.epochs or DEFAULT_EPOCHS[args.name]
    if epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {epochs}")
    with threadpool_limits(args.threads):
        if args.name in ("dropout", "sensitivity", "activations"):
            from groundup.grad.demos import layer_studies

            kwargs = {} if args.name == "activations" else {"epochs": epochs}
            layer_studies.STUDIES[args.name](args.out, **kwargs)
        elif args.name == "xor":
            xor.run(args.out, steps=epochs, seed=args.seed)
        elif args.name in ("mlp", "cnn"):
            mnist.run_model(args.name, args.out, epochs, args.seed)
        else:
            mnist.run_comparison(args.name, args.out, epochs, args.seed)
    print(f"report: {args.out / (args.name + '.md')}")
    return 0
