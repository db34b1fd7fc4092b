"""`groundup arch compare --out DIR`: the modern-architecture comparison of curriculum 3.4 (GPT,
MoE-GPT, linear-attention GPT, Mamba, RWKV, RetNet at ~1M parameters on tiny Shakespeare)."""

from __future__ import annotations

from groundup.argtypes import int_range, positive_int


def cmd_compare(args) -> int:
    from groundup.train.arch.compare import ARCHS, run_compare

    only = args.only.split(",") if args.only else None
    unknown = [n for n in only or [] if n not in ARCHS]
    if unknown:
        from groundup.argtypes import UsageError

        raise UsageError(f"--only: unknown model(s) {', '.join(unknown)}; models: {', '.join(ARCHS)}")
    data = run_compare(
        args.out,
        seeds=tuple(range(args.first_seed, args.first_seed + args.seeds)),
        max_iters=args.max_iters,
        eval_interval=args.eval_interval,
        only=only,
        threads=args.threads,
        progress=args.progress,
        decode_tokens=args.decode_tokens,
        probes=not args.no_probes,
    )
    if args.no_probes:
        print(f"trained {len(data['runs'])} runs without probes: {args.out}/compare.json (for arch merge)")
        return 0
    for row in data["summary"]:
        print(
            f"{row['model']:<11} {row['params']:>9,} params  val {row['val_loss']:.4f} ± {row['val_loss_ci']:.4f}  "
            f"train {row['train_tokens_per_s']:,.0f} tok/s  decode {row['decode_tokens_per_s']:,.0f} tok/s"
        )
    print(f"report: {args.out}/report.md")
    return 0


def cmd_merge(args) -> int:
    import json
    from pathlib import Path

    from groundup.train.arch.compare import merge, write_outputs

    parts = []
    for part in args.parts:
        path = next(
            (Path(part) / n for n in ("compare.json", "probes.json") if (Path(part) / n).is_file()), None
        )
        if path is None:
            from groundup.errors import GroundupError

            raise GroundupError(
                f"{part} holds neither compare.json nor probes.json: give directories written by "
                "`groundup arch compare` or `groundup arch probes`"
            )
        parts.append(json.loads(path.read_text()))
    data = merge(parts)
    write_outputs(data, args.out)
    print(f"merged {len(data['runs'])} runs of {len(data['summary'])} models: {args.out}/report.md")
    return 0


def cmd_probes(args) -> int:
    from groundup.train.arch.compare import ARCHS, run_probes

    only = args.only.split(",") if args.only else None
    unknown = [n for n in only or [] if n not in ARCHS]
    if unknown:
        from groundup.argtypes import UsageError

        raise UsageError(f"--only: unknown model(s) {', '.join(unknown)}; models: {', '.join(ARCHS)}")
    lengths = tuple(int(t) for t in args.lengths.split(","))
    run_probes(args.out, only=only, probe_lengths=lengths, decode_tokens=args.decode_tokens)
    print(f"report: {args.out}/probes.md")
    return 0


def register(subparsers) -> None:
    arch = subparsers.add_parser("arch", help="modern architectures: train and compare them on one corpus")
    kinds = arch.add_subparsers(dest="what", metavar="WHAT", required=True)
    compare = kinds.add_parser(
        "compare",
        help="train GPT, MoE-GPT, linear-attention GPT, Mamba, RWKV, RetNet (~1M params) and compare",
        description="Every model trains on tiny Shakespeare (characters) with the same token budget and "
        "optimizer for each seed; then memory and decoding cost are measured against sequence length. "
        "Writes compare.json, report.md and plots to --out.",
    )
    compare.add_argument("--out", required=True, help="output directory")
    compare.add_argument("--seeds", type=int_range(1, 10), default=3, help="seeds per model (0, 1, ...)")
    compare.add_argument("--first-seed", type=int_range(0, 10**6), default=0, help="seeds start here")
    compare.add_argument(
        "--no-probes", action="store_true", help="train only (extra seeds for `arch merge`), no report"
    )
    compare.add_argument("--max-iters", type=positive_int, default=400, help="training steps per run")
    compare.add_argument("--eval-interval", type=positive_int, default=50, help="steps between evaluations")
    compare.add_argument("--only", default=None, help="comma-separated models, e.g. gpt,mamba")
    compare.add_argument("--threads", type=positive_int, default=1, help="torch threads per run")
    compare.add_argument("--decode-tokens", type=positive_int, default=256, help="tokens timed when decoding")
    compare.add_argument("--progress", action="store_true", help="show a progress bar per run")
    compare.set_defaults(func=cmd_compare)
    probes = kinds.add_parser(
        "probes",
        help="the complexity table alone: memory and decoding cost against sequence length (no training)",
    )
    probes.add_argument("--out", required=True, help="output directory")
    probes.add_argument("--only", default=None, help="comma-separated models, e.g. gpt,mamba")
    probes.add_argument("--lengths", default="256,512,1024,2048", help="comma-separated sequence lengths")
    probes.add_argument("--decode-tokens", type=positive_int, default=256, help="tokens timed when decoding")
    probes.set_defaults(func=cmd_probes)
    merge = kinds.add_parser(
        "merge",
        help="join comparisons run in several processes (disjoint --only sets, one budget) into one report",
    )
    merge.add_argument("--out", required=True, help="output directory of the joined report")
    merge.add_argument(
        "parts", nargs="+", help="directories written by `groundup arch compare` (or `arch probes`)"
    )
    merge.set_defaults(func=cmd_merge)
