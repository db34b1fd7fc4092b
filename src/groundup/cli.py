"""The `groundup` command: a thin argparse front over the library.

Each area registers its own subcommands in `groundup/<area>/cli.py` with a function
`register(subparsers)`; handlers import their heavy dependencies (torch, the model) only when they
run, so `groundup --help` stays fast. A handler returns an exit code (or None for 0).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import groundup
from groundup.errors import GroundupError


def area_cli_modules() -> list[str]:
    """Every `groundup.<area>.cli` module, in alphabetical order of area."""
    names = []
    for info in pkgutil.iter_modules(groundup.__path__):
        if info.ispkg and importlib.util.find_spec(f"groundup.{info.name}.cli") is not None:
            names.append(f"groundup.{info.name}.cli")
    return sorted(names)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="groundup",
        description="Deep learning from the ground up, every piece checked against a production library.",
    )
    parser.add_argument("--version", action="version", version=f"groundup {groundup.__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in area_cli_modules():
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the chosen subcommand, turn user-facing errors into one line and exit 1."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except (GroundupError, ValueError, OSError) as exc:
        if args.debug:
            raise
        print(f"groundup: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
