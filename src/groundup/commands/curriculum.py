"""`groundup progress`: the curriculum dashboard from test results.

It prints; it writes the committed docs/PROGRESS.md only with `--write-docs` (or another file with
`--markdown PATH`), and only from real results, never from a collection without outcomes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "progress",
        help="curriculum dashboard computed from the test results",
        description="Print per-track and per-module progress from the last `make test` results "
        "(or run the tests first with --run). `--write-docs` also rewrites docs/PROGRESS.md.",
    )
    p.add_argument("--run", action="store_true", help="run the default test suite first")
    p.add_argument("--results", type=Path, help="results JSON (default: .groundup/test-results.json)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of the table")
    p.add_argument(
        "--write-docs",
        action="store_true",
        help="also write the dashboard to the checkout's docs/PROGRESS.md",
    )
    p.add_argument("--markdown", type=Path, help="also write the markdown dashboard to this file")
    p.add_argument("--no-markdown", action="store_true", help=argparse.SUPPRESS)  # the old default; a no-op
    p.set_defaults(func=progress_command)


def progress_command(args: argparse.Namespace) -> int:
    from groundup.argtypes import UsageError
    from groundup.curriculum import progress as prog
    from groundup.curriculum.results import default_results_path, read_results
    from groundup.errors import GroundupError
    from groundup.reports import write_text

    if args.write_docs and args.markdown:
        raise UsageError("--write-docs and --markdown name two different files; give one of them")
    target = markdown_target(args)
    path = args.results or default_results_path()
    if args.run:
        prog.run_tests(path)
    if path.is_file():
        header, checks = read_results(path)
        header["source"] = str(path)
    elif target is not None:  # a dashboard without outcomes would show every module as not verified
        raise GroundupError(
            f"no test results at {path}: run `make test` (or add --run) before writing {target}"
        )
    else:
        header, checks = prog.collected_checks()
    progress = prog.module_progress(checks)
    if args.json:
        print(json.dumps(prog.as_json(progress, header), indent=1))
    else:
        print(prog.render_text(progress, header))
    if target is not None:
        write_text(target, prog.render_markdown(progress, header) + "\n")
    return 0


def markdown_target(args: argparse.Namespace) -> Path | None:
    if args.write_docs:
        from groundup.checkout import repo_root

        return repo_root() / "docs" / "PROGRESS.md"
    return args.markdown
