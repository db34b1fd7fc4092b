"""`python -m benchmarks NAME [--quick]`, `python -m benchmarks all`, `python -m benchmarks --list`.

A benchmark is a module `benchmarks/bench_<name>.py` with a docstring and `run(report, quick)`.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from benchmarks.harness import Report

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(
        m.name[len("bench_") :] for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_")
    )


def run_one(name: str, quick: bool) -> Path:
    module = importlib.import_module(f"benchmarks.bench_{name}")
    report = Report(name)
    module.run(report, quick=quick)
    print(f"\n== {name} ==\n{report.table()}")
    path = report.save()
    print(f"saved {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("name", nargs="?", help="benchmark name or 'all'")
    parser.add_argument("--list", action="store_true", help="list benchmarks")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    args = parser.parse_args(argv)
    names = available()
    if args.list or not args.name:
        for name in names:
            doc = (importlib.import_module(f"benchmarks.bench_{name}").__doc__ or "").strip().splitlines()
            print(f"{name:<20} {doc[0] if doc else ''}")
        return 0
    chosen = names if args.name == "all" else [args.name]
    unknown = [n for n in chosen if n not in names]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; available: {', '.join(names) or 'none yet'}")
    for name in chosen:
        run_one(name, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
