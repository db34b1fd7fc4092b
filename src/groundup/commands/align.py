"""`groundup align study` (the 3.5 capstone on SmolLM2) and `groundup diffusion train|sample|compare`
(the 3.6 capstone on 8×8 digits)."""

from __future__ import annotations

import argparse
from pathlib import Path

from groundup.argtypes import float_range, int_range
from groundup.outputs import add_out_option, out_dir, prepare_file

NOTES = "docs/notes"
DENOISERS = ("unet", "dit")


def register(subparsers: argparse._SubParsersAction) -> None:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    align = subparsers.add_parser(
        "align", help="SFT, reward model, DPO, PPO and a constitutional loop on SmolLM2"
    )
    sub = align.add_subparsers(dest="align_command", metavar="SUBCOMMAND", required=True)
    study = sub.add_parser(
        "study", help="the 3.5 capstone: every stage, with its report", formatter_class=fmt
    )
    add_out_option(study, "align-study", docs=f"{NOTES}/3.5-alignment")
    study.add_argument(
        "--shakespeare-prompts", type=int_range(0, 200), default=8, help="tinyshakespeare prompts added"
    )
    study.add_argument("--samples", type=int_range(2, 16), default=3, help="answers sampled per prompt")
    study.add_argument("--max-new-tokens", type=int_range(4, 256), default=32, help="answer length cap")
    study.add_argument("--train-layers", type=int_range(1, 29), default=2, help="blocks that carry LoRA")
    study.add_argument("--steps", type=int_range(1, 10000), default=16, help="DPO and reward-model steps")
    study.add_argument("--threads", type=int_range(1, 256), default=1, help="torch CPU threads")
    study.add_argument("--seed", type=int, default=0, help="random seed")
    study.set_defaults(func=study_command)

    diffusion = subparsers.add_parser(
        "diffusion", help="DDPM/DDIM with classifier-free guidance on 8×8 digits"
    )
    dsub = diffusion.add_subparsers(dest="diffusion_command", metavar="SUBCOMMAND", required=True)
    train = dsub.add_parser(
        "train", help="train a denoiser, sample and score it (report)", formatter_class=fmt
    )
    add_out_option(train, "diffusion-train", docs=f"{NOTES}/3.6-diffusion")
    train.add_argument("--denoiser", choices=DENOISERS, default="unet", help="the ε-network")
    train.add_argument("--steps", type=int_range(1, 100000), default=500, help="Adam steps of 128 images")
    train.add_argument("--schedule", choices=("linear", "cosine"), default="cosine", help="β schedule")
    train.add_argument(
        "--quick",
        action="store_true",
        help="score 1 DDIM sample per digit, one guidance, no DDPM (smoke runs)",
    )
    train.add_argument("--threads", type=int_range(1, 256), default=1, help="torch CPU threads")
    train.add_argument("--seed", type=int, default=0, help="random seed")
    train.set_defaults(func=train_command)

    smp = dsub.add_parser(
        "sample", help="a PNG grid from a model saved by `diffusion train`", formatter_class=fmt
    )
    smp.add_argument("model", type=Path, help="model.pt written by `groundup diffusion train`")
    smp.add_argument("--out", type=Path, default=Path("samples.png"), help="PNG file to write")
    smp.add_argument(
        "--digits", type=int_range(0, 9), nargs="+", default=list(range(10)), help="one grid row per digit"
    )
    smp.add_argument("--per-digit", type=int_range(1, 100), default=8, help="samples per row")
    smp.add_argument("--method", choices=("ddim", "ddpm"), default="ddim", help="sampler (DDPM: 1000 steps)")
    smp.add_argument("--steps", type=int_range(1, 1000), default=50, help="DDIM steps")
    smp.add_argument(
        "--guidance", type=float_range(0.0, 20.0), default=1.0, help="classifier-free guidance scale w"
    )
    smp.add_argument("--seed", type=int, default=0, help="random seed")
    smp.set_defaults(func=sample_command)

    cmp = dsub.add_parser("compare", help="the tiny DiT against the U-Net, same budget", formatter_class=fmt)
    add_out_option(cmp, "diffusion-compare", docs=f"{NOTES}/3.6-diffusion")
    cmp.add_argument("--steps", type=int_range(1, 100000), default=300, help="Adam steps of 64 per model")
    cmp.add_argument("--threads", type=int_range(1, 256), default=1, help="torch CPU threads")
    cmp.add_argument("--seed", type=int, default=0, help="random seed")
    cmp.set_defaults(func=compare_command)


def study_command(args: argparse.Namespace) -> int:
    out = out_dir(args)
    import torch

    from groundup.align import study

    torch.set_num_threads(args.threads)
    study.main(
        out,
        n_shakespeare=args.shakespeare_prompts,
        samples_per_prompt=args.samples,
        max_new_tokens=args.max_new_tokens,
        train_layers=args.train_layers,
        rm_steps=args.steps,
        dpo_steps=args.steps,
        seed=args.seed,
    )
    print((out / "report.md").read_text())
    return 0


def train_command(args: argparse.Namespace) -> int:
    out = out_dir(args)
    import torch

    from groundup.train import diffusion_study

    torch.set_num_threads(args.threads)
    quick = {"per_class": 1, "guidances": (1.0,), "ddpm_images": 0} if args.quick else {}
    diffusion_study.main(
        out, steps=args.steps, kind=args.schedule, denoiser=args.denoiser, seed=args.seed, **quick
    )
    print((out / "report.md").read_text())
    return 0


def sample_command(args: argparse.Namespace) -> int:
    out = prepare_file(args.out, "--out")
    import torch

    from groundup.train import diffusion_study

    labels = torch.tensor(args.digits).repeat_interleave(args.per_digit)
    images = diffusion_study.sample_saved(
        args.model, labels, args.method, args.steps, args.guidance, seed=args.seed
    )
    diffusion_study.save_grid(out, images, rows=len(args.digits))
    print(f"wrote {len(labels)} samples ({args.method}, guidance {args.guidance:g}) to {out}")
    return 0


def compare_command(args: argparse.Namespace) -> int:
    out = out_dir(args)
    import torch

    from groundup.train import diffusion_study

    torch.set_num_threads(args.threads)
    diffusion_study.compare_denoisers(out, steps=args.steps, seed=args.seed)
    print((out / "dit_vs_unet.md").read_text())
    return 0
