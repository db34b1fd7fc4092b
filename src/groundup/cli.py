"""The `groundup` command: a thin argparse front over the library.

Each area's subcommands live in one module of the package `groundup.commands` (`commands/<area>.py`),
which sits above every area: a command loads a model and wires areas together, so it must not live
inside a lower layer. Each module defines `register(subparsers)`; handlers import their heavy
dependencies (torch, the model) only when they run, so `groundup --help` stays fast. A handler returns
an exit code (or None for 0).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import groundup
from groundup.argtypes import Parser, UsageError
from groundup.errors import GroundupError


def command_modules() -> list[str]:
    """Every module of `groundup.commands` that registers commands, found on disk so that adding an area's
    commands is adding one file."""
    folder = Path(groundup.__file__).parent / "commands"
    return sorted(f"groundup.commands.{path.stem}" for path in folder.glob("*.py") if path.stem != "__init__")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="groundup",
        description="Deep learning from the ground up, every piece checked against a production library.",
    )
    parser.add_argument("--version", action="version", version=f"groundup {groundup.__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in command_modules():
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the chosen subcommand, turn user-facing errors into one line and exit 1."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not at interpreter exit
    except UsageError as exc:
        args.parser.error(str(exc))  # usage line + message, exit 2
    except BrokenPipeError:  # the reader went away (`groundup progress --json | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a Unix tool killed by the closed pipe
    except (GroundupError, ValueError, OSError) as exc:
        if args.debug:
            raise
        print(f"groundup: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return int(code or 0)


def one_line(exc: Exception) -> str:
    """The message of a user-facing error on one line; an OSError as 'FILE: reason' (not '[Errno 2] ...')."""
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    else:
        text = str(exc)
    return " ".join(text.split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
