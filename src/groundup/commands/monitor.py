"""`groundup monitor REFERENCE.csv CURRENT.csv --out report.md|html`: a per-feature drift report."""

from __future__ import annotations

import argparse
from pathlib import Path

from groundup.argtypes import float_range, int_range


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "monitor",
        help="per-feature drift report (PSI, KS, JS, chi-square) of CURRENT.csv against REFERENCE.csv",
    )
    p.add_argument("reference", type=Path, help="CSV with a header row: the data the model was trained on")
    p.add_argument("current", type=Path, help="CSV with the same header: the data the model sees now")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("groundup-out/monitor/report.md"),
        help="report file; .html writes HTML, anything else markdown",
    )
    p.add_argument("--bins", type=int_range(2), default=10, help="quantile bins of a numeric feature (>= 2)")
    p.add_argument(
        "--alpha",
        type=float_range(0, 1, low_open=True, high_open=True),
        default=0.01,
        help="test level in (0, 1)",
    )
    p.set_defaults(func=monitor_command)


def monitor_command(args: argparse.Namespace) -> int:
    from groundup.monitor.report import write_report
    from groundup.outputs import prepare_file

    out = prepare_file(args.out, "--out")
    scores = write_report(args.reference, args.current, out, bins=args.bins, alpha=args.alpha)
    moved = [s.name for s in scores if s.drifted(args.alpha)]
    print(f"{len(moved)} of {len(scores)} features drifted: {', '.join(moved) or 'none'}; report: {out}")
    return 0
