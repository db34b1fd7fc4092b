"""`groundup bench NAME`: run a benchmark from the checkout's benchmarks/ folder (ours vs peer)."""

from __future__ import annotations

import argparse
import subprocess
import sys

from groundup.outputs import add_out_option


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench",
        help="run a benchmark: ours vs the production peer in one run",
        description="Runs `python -m benchmarks NAME` in the groundup checkout; results go to "
        "./groundup-out/bench/NAME.json (or --out DIR; the committed benchmarks/results/ with --write-docs). "
        "Use `groundup bench --list` to see the benchmarks.",
    )
    p.add_argument("name", nargs="?", help="benchmark name, or 'all'")
    p.add_argument("--list", action="store_true", help="list the benchmarks")
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    add_out_option(p, "bench", docs="benchmarks/results", what="results folder")
    p.set_defaults(func=bench_command)


def bench_command(args: argparse.Namespace) -> int:
    from groundup.argtypes import UsageError
    from groundup.checkout import repo_root
    from groundup.outputs import chosen_dir, prepare_dir

    cmd = [sys.executable, "-m", "benchmarks"]
    if args.list:
        return subprocess.run([*cmd, "--list"], cwd=repo_root()).returncode
    names = sorted(p.stem.removeprefix("bench_") for p in (repo_root() / "benchmarks").glob("bench_*.py"))
    if args.name not in (*names, "all"):
        raise UsageError(f"name a benchmark: {', '.join(names)} (or all); got {args.name!r}")
    where = ["--write-docs"] if args.write_docs else ["--out", str(prepare_dir(chosen_dir(args)).resolve())]
    cmd += [args.name, *(["--quick"] if args.quick else []), *where]
    return subprocess.run(cmd, cwd=repo_root()).returncode
