"""`groundup bench NAME`: run a benchmark from the checkout's benchmarks/ folder (ours vs peer)."""

from __future__ import annotations

import argparse
import subprocess
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench",
        help="run a benchmark: ours vs the production peer in one run",
        description="Runs `python -m benchmarks NAME` in the groundup checkout; results go to "
        "benchmarks/results/NAME.json. Use `groundup bench --list` to see the benchmarks.",
    )
    p.add_argument("name", nargs="?", help="benchmark name, or 'all'")
    p.add_argument("--list", action="store_true", help="list the benchmarks")
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    p.set_defaults(func=bench_command)


def bench_command(args: argparse.Namespace) -> int:
    from groundup.checkout import repo_root

    if not args.list and not args.name:
        raise ValueError("name a benchmark (or 'all'); `groundup bench --list` lists them")
    cmd = [sys.executable, "-m", "benchmarks"]
    cmd += ["--list"] if args.list else [args.name] + (["--quick"] if args.quick else [])
    return subprocess.run(cmd, cwd=repo_root()).returncode
