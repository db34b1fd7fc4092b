"""`python -m benchmarks NAME [--quick]`, `python -m benchmarks all`, `python -m benchmarks --list`.

A benchmark is a module `benchmarks/bench_<name>.py` with a docstring and `run(report, quick)`.
Results go to ./groundup-out/bench/ (or --out DIR); `--write-docs` writes the committed
benchmarks/results/ instead (what `make bench` does).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from benchmarks.harness import RESULTS_DIR, USER_DIR, Report
from groundup.errors import GroundupError
from groundup.outputs import prepare_dir

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(
        m.name[len("bench_") :] for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_")
    )


def run_one(name: str, quick: bool, directory: Path = USER_DIR) -> Path:
    module = importlib.import_module(f"benchmarks.bench_{name}")
    report = Report(name, directory=directory)
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
    parser.add_argument("--out", type=Path, default=None, help=f"results folder (default: ./{USER_DIR})")
    parser.add_argument(
        "--write-docs", action="store_true", help=f"write the committed results in {RESULTS_DIR} instead"
    )
    args = parser.parse_args(argv)
    if args.out and args.write_docs:
        parser.error("--out and --write-docs name two different folders; give one of them")
    directory = RESULTS_DIR if args.write_docs else args.out or USER_DIR
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
    try:
        prepare_dir(directory)  # before minutes of measuring
    except GroundupError as exc:
        parser.exit(1, f"{parser.prog}: error: {exc}\n")
    for name in chosen:
        run_one(name, args.quick, directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
