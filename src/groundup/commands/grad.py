"""`groundup grad demo xor|mlp|cnn|optimizers|norms`: the NumPy framework's capstones, each writing a
markdown report with PNG plots into --out."""

from __future__ import annotations

import argparse

from groundup.argtypes import UsageError, non_negative_int, positive_int
from groundup.outputs import add_out_option

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
    add_out_option(demo, "grad-demo", what="output directory")
    demo.add_argument(
        "--epochs",
        type=int,
        help="epochs (xor: steps), >= 1; default: "
        + ", ".join(f"{name} {epochs}" for name, epochs in DEFAULT_EPOCHS.items()),
    )
    demo.add_argument("--seed", type=non_negative_int, default=0, help="random seed")
    demo.add_argument(
        "--threads", type=positive_int, default=1, help="BLAS threads (1: fastest on a busy machine)"
    )
    demo.set_defaults(func=demo_command)


def demo_command(args: argparse.Namespace) -> int:
    epochs = DEFAULT_EPOCHS[args.name] if args.epochs is None else args.epochs
    if epochs < 1:  # checked here, not by the option's type: its default depends on the demo
        raise UsageError(f"--epochs must be >= 1, got {epochs}")

    from threadpoolctl import threadpool_limits

    from groundup.grad.demos import mnist, xor
    from groundup.outputs import chosen_dir, writing_to

    with writing_to(chosen_dir(args)) as out, threadpool_limits(args.threads):
        if args.name in ("dropout", "sensitivity", "activations"):
            from groundup.grad.demos import layer_studies

            kwargs = {} if args.name == "activations" else {"epochs": epochs}
            layer_studies.STUDIES[args.name](out, **kwargs)
        elif args.name == "xor":
            xor.run(out, steps=epochs, seed=args.seed)
        elif args.name in ("mlp", "cnn"):
            mnist.run_model(args.name, out, epochs, args.seed)
        else:
            mnist.run_comparison(args.name, out, epochs, args.seed)
    print(f"report: {out / (args.name + '.md')}")
    return 0
