"""`groundup train gpt|ladder` and `groundup sample`.

Every TrainConfig field can be overridden as `--key=value` or `--key value` (dashes or underscores);
an unknown key is refused with the list of valid ones.
"""

from __future__ import annotations

import argparse

from groundup.argtypes import (
    DefaultsFormatter,
    Parser,
    UsageError,
    float_range,
    non_empty,
    non_negative_int,
    positive_int,
)
from groundup.errors import GroundupError


class ConfigArgParser(Parser):
    """A parser whose leftover `--key=value` arguments become TrainConfig overrides."""

    def parse_known_args(self, args=None, namespace=None):
        from groundup.train.config import parse_overrides

        namespace, extras = super().parse_known_args(args, namespace)
        try:
            namespace.overrides = parse_overrides(extras)
        except (GroundupError, ValueError) as exc:
            self.error(str(exc))
        return namespace, []


class ConfigHelpFormatter(argparse.RawDescriptionHelpFormatter, DefaultsFormatter):
    """Defaults beside the options, and the config-field table of the epilog kept as written."""


def config_fields_help() -> str:
    """Every TrainConfig field as an option line with its type and default, for `train gpt --help`."""
    from dataclasses import MISSING, fields

    from groundup.train.config import MODELS, PRESETS, TrainConfig

    choices = {"model": MODELS, "dtype": ("float32", "bfloat16")}
    lines = ["config fields (--key=VALUE or --key VALUE; dashes or underscores; a bare --flag is true):"]
    for f in fields(TrainConfig):
        kind = getattr(f.type, "__name__", str(f.type))
        default = "" if f.default is MISSING else f"default: {f.default!r}"
        one_of = f" (one of {', '.join(choices[f.name])})" if f.name in choices else ""
        note = f" ({FIELD_NOTES[f.name]})" if f.name in FIELD_NOTES else ""
        lines.append(f"  --{f.name.replace('_', '-'):<22} {kind.upper():<6} {default}{one_of}{note}")
    lines.append(f"presets: {', '.join(PRESETS)}")
    return "\n".join(lines)


FIELD_NOTES = {
    "lr_decay_iters": "0: decay until --max-iters",
    "grad_clip": "0: no clipping",
    "skip_nonfinite": "skip a step with an inf/NaN loss or gradient instead of stopping",
    "patience": "0: never stop early",
    "ckpt_interval": "0: only at evaluations and the end",
    "threads": "0: torch's default",
}


def register(subparsers) -> None:
    train = subparsers.add_parser("train", help="train GPT or the makemore ladder on a character corpus")
    kinds = train.add_subparsers(dest="what", metavar="WHAT", required=True, parser_class=ConfigArgParser)
    gpt = kinds.add_parser(
        "gpt",
        help="train a GPT (or any ladder model with --model=NAME)",
        description="Train on tiny Shakespeare (or --data-path FILE). A --preset sets many fields at "
        "once; every config field below can then be overridden.",
        epilog=config_fields_help(),
        formatter_class=ConfigHelpFormatter,
    )
    gpt.add_argument("--preset", default=None, help="named config, e.g. shakespeare-char-cpu or tiny")
    gpt.add_argument("--out", default=None, help="run directory: checkpoint, metrics.jsonl, loss.png")
    gpt.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    gpt.add_argument(
        "--overwrite", action="store_true", help="replace the run in a non-empty --out (default: refuse)"
    )
    gpt.add_argument(
        "--report-chars",
        type=non_negative_int,
        default=500,
        help="characters sampled into --out/report.md (0: no report)",
    )
    gpt.set_defaults(func=cmd_train_gpt, overrides={})
    ladder = kinds.add_parser(
        "ladder", help="train bigram ... GPT at comparable sizes; write a table and plot"
    )
    ladder.add_argument("--out", default="runs/ladder", help="output directory")
    ladder.add_argument("--only", default=None, help="comma-separated rungs, e.g. mlp,lstm,gpt")
    ladder.add_argument("--overwrite", action="store_true", help="replace the rungs' runs already in --out")
    ladder.set_defaults(func=cmd_train_ladder, overrides={})

    sample = subparsers.add_parser("sample", help="generate text from a training checkpoint")
    sample.add_argument("--ckpt", required=True, help="run directory (or .safetensors file) written by train")
    sample.add_argument("--num-chars", type=positive_int, default=500, help="characters to generate")
    sample.add_argument(
        "--prompt", type=non_empty, default="\n", help="text to continue (default: a newline)"
    )
    sample.add_argument("--temperature", type=float_range(0), default=1.0, help="0 = greedy")
    sample.add_argument(
        "--top-k", type=non_negative_int, default=0, help="keep the k most likely characters (0 = all)"
    )
    sample.add_argument("--seed", type=int, default=0, help="random seed (same seed, same text)")
    sample.set_defaults(func=cmd_sample)


def cmd_train_gpt(args) -> int:
    from groundup.train.config import make_config
    from groundup.train.trainer import train

    if args.resume and args.overwrite:
        raise UsageError("--resume continues the run in --out, --overwrite replaces it: give one")
    if args.resume and not args.out:
        raise UsageError("--resume needs the run's folder: --out DIR")
    try:
        cfg = make_config(args.preset, **args.overrides)
    except ValueError as exc:  # fields that cannot work together, e.g. n_embd not divisible by n_head
        raise UsageError(str(exc)) from None
    result = train(cfg, args.out, resume=args.resume, overwrite=args.overwrite)
    if args.out and args.report_chars > 0:
        from groundup.generate.loading import sample_text
        from groundup.train.report import write_run_report

        write_run_report(args.out, cfg, result, sample_text(args.out, args.report_chars))
    print(
        f"{cfg.model}: {result.iters} iterations, val loss {result.val_loss:.4f} "
        f"(best {result.best_val_loss:.4f}), {result.params:,} parameters, "
        f"{result.tokens_per_s:,.0f} tokens/s, {result.wall_s:.1f} s"
        + (" (stopped early)" if result.stopped_early else "")
        + (f", {result.skipped_steps} non-finite steps skipped" if result.skipped_steps else "")
    )
    return 0


def cmd_train_ladder(args) -> int:
    from groundup.train.ladder import ladder_table, run_ladder

    allowed = {"max_iters", "threads", "progress"}
    extra = sorted(set(args.overrides) - allowed)
    if extra:
        flags = [f"--{name.replace('_', '-')}" for name in sorted(allowed)]
        raise GroundupError(f"train ladder accepts only {', '.join(flags)}; got {', '.join(extra)}")
    only = args.only.split(",") if args.only else None
    rows = run_ladder(args.out, only=only, overwrite=args.overwrite, **args.overrides)
    print(ladder_table(rows))
    return 0


def cmd_sample(args) -> int:
    from groundup.generate.loading import sample_text

    print(
        sample_text(
            args.ckpt,
            args.num_chars,
            prompt=args.prompt,
            temperature=args.temperature,
            top_k=args.top_k,
            seed=args.seed,
        )
    )
    return 0
