"""`groundup progress`: the curriculum dashboard from test results."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "progress",
        help="curriculum dashboard computed from the test results",
        description="Print per-track and per-module progress from the last `make test` results "
        "(or run the tests first with --run). Also writes docs/PROGRESS.md.",
    )
    p.add_argument("--run", action="store_true", help="run the default test suite first")
    p.add_argument("--results", type=Path, help="results JSON (default: .groundup/test-results.json)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of the table")
    p.add_argument(
        "--markdown", type=Path, help="where to write the markdown dashboard (default: docs/PROGRESS.md)"
    )
    p.add_argument("--no-markdown", action="store_true", help="do not write the markdown dashboard")
    p.set_defaults(func=progress_command)


def progress_command(args: argparse.Namespace) -> int:
    from groundup.checkout import repo_root
    from groundup.curriculum import progress as prog
    from groundup.curriculum.results import default_results_path, read_results

    path = args.results or default_results_path()
    if args.run:
        prog.run_tests(path)
    if path.is_file():
        header, checks = read_results(path)
        header["source"] = str(path)
    else:
        header, checks = prog.collected_checks()
    progress = prog.module_progress(checks)
    if args.json:
        print(json.dumps(prog.as_json(progress, header), indent=1))
    else:
        print(prog.render_text(progress, header))
    if not args.no_markdown:
        target = args.markdown or repo_root() / "docs" / "PROGRESS.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(prog.render_markdown(progress, header) + "\n", encoding="utf-8")
    return 0
