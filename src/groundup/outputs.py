"""Where commands write: the user's output folder by default, the checkout's reports only when asked.

Every command that writes files takes `--out DIR`; without it, it writes to `./groundup-out/<command>/`
in the current folder. Commands whose report is committed to the checkout (the capstone reports
under docs/notes/, the benchmark results, docs/PROGRESS.md) also take `--write-docs`, which writes
there instead; `make docs-reports` runs them. So trying a command never overwrites a committed file.

The folder is created and checked writable before any work (a report that fails to save after
minutes of training is worse than a refusal up front), and `writing_to` removes it again when the
command fails before writing anything into it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from groundup.argtypes import UsageError
from groundup.errors import GroundupError

USER_DIR = Path("groundup-out")


def add_out_option(
    parser: argparse.ArgumentParser, command: str, *, docs: str | None = None, what: str = "report folder"
) -> None:
    """`--out DIR` (default ./groundup-out/COMMAND) and, when the report is committed at `docs` (a
    folder of the checkout, e.g. "docs/notes/1.1-capstone"), `--write-docs`."""
    default = USER_DIR / command
    parser.add_argument("--out", type=Path, default=None, help=f"{what} (default: ./{default})")
    if docs is not None:
        parser.add_argument(
            "--write-docs",
            action="store_true",
            help=f"write the committed report in the checkout's {docs}/ instead (`make docs-reports`)",
        )
    parser.set_defaults(out_default=default, out_docs=docs)


def chosen_dir(args: argparse.Namespace) -> Path:
    """--out, else the checkout's docs folder with --write-docs, else ./groundup-out/COMMAND."""
    if getattr(args, "write_docs", False):
        from groundup.checkout import repo_root

        if args.out is not None:
            raise UsageError("--out and --write-docs name two different folders; give one of them")
        return repo_root() / args.out_docs
    return Path(args.out) if args.out is not None else args.out_default


def out_dir(args: argparse.Namespace) -> Path:
    """The folder chosen by --out / --write-docs, created and checked writable."""
    return prepare_dir(chosen_dir(args))


def prepare_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """Create `path` (with its parents) and check that a file can be written in it, before any work."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise GroundupError(f"{path} is a file, not a folder; choose a folder with {option}")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise GroundupError(
            f"cannot write to the folder {path} ({reason}); choose another with {option}"
        ) from None
    return path


def prepare_file(path: str | os.PathLike, option: str) -> Path:
    """An output file's folder, created and checked writable; refuses a path that is a folder."""
    path = Path(path)
    if path.is_dir():
        raise GroundupError(f"{option} {path} is a folder; give a file name")
    prepare_dir(path.parent, option)
    return path


@contextmanager
def writing_to(path: str | os.PathLike, option: str = "--out") -> Iterator[Path]:
    """`prepare_dir(path)` for the duration of a command; when the command fails, the folders this
    created are removed again if they are still empty (a failed run leaves no empty folder behind)."""
    path = Path(path)
    created = [p for p in (path, *path.parents) if not p.exists()]
    prepare_dir(path, option)
    try:
        yield path
    except BaseException:
        for folder in created:  # deepest first
            try:
                folder.rmdir()
            except OSError:  # not empty (the command wrote something), or gone
                break
        raise
