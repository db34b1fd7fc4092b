"""Where test results live and how they are read: one JSON file written by the pytest plugin."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from groundup.checkout import repo_root
from groundup.errors import GroundupError

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "not run")


@dataclass(frozen=True)
class CheckResult:
    """One test: its node id, the curriculum modules it verifies and how it ended."""

    nodeid: str
    modules: tuple[str, ...]
    outcome: str
    duration: float = 0.0


def default_results_path() -> Path:
    """$GROUNDUP_RESULTS, else .groundup/test-results.json in the checkout."""
    if os.environ.get("GROUNDUP_RESULTS"):
        return Path(os.environ["GROUNDUP_RESULTS"])
    return repo_root() / ".groundup" / "test-results.json"


def read_results(path: Path) -> tuple[dict, list[CheckResult]]:
    """(header, checks) from a results file; GroundupError when it is missing or malformed."""
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
        checks = [
            CheckResult(t["nodeid"], tuple(t["modules"]), t["outcome"], float(t.get("duration", 0.0)))
            for t in payload["tests"]
        ]
    except FileNotFoundError as exc:
        raise GroundupError(
            f"no test results at {path}: run `make test` or `groundup progress --run`"
        ) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise GroundupError(f"{path} is not a groundup results file ({exc}); run `make test` again") from exc
    header = {k: v for k, v in payload.items() if k != "tests"}
    return header, checks
