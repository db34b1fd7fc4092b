"""The progress dashboard's data: the curriculum's modules and how their tagged tests last ran.

The same computation as `groundup progress` (`curriculum.progress`), read from the last results file
(`make test` writes it). Without one, the page falls back to the committed dashboard,
docs/PROGRESS.md (which `groundup progress --write-docs` generates from a full run), and says so.
Only failing checks are listed by name: the page is a map, not a test log.
"""

from __future__ import annotations

import re
from pathlib import Path

from groundup.checkout import repo_root
from groundup.curriculum import progress as prog
from groundup.curriculum.results import default_results_path, read_results
from groundup.errors import GroundupError

ROW = re.compile(r"^\| (?P<id>\d+\.\d+) \| [^|]+ \| (?P<status>[a-z ]+) \| (?P<counts>[^|]+) \|$")


def progress_payload(results_path: Path | None = None, committed: Path | None = None) -> dict:
    """`curriculum.progress.as_json`, with each module's checks reduced to the failing ones."""
    path = Path(results_path) if results_path else default_results_path()
    if path.is_file():
        header, checks = read_results(path)
        header["source"] = str(path)
    else:
        header, checks = {"source": f"no test results at {path}: run `make test` to verify the modules"}, []
    payload = prog.as_json(prog.module_progress(checks), header)
    for track in payload["tracks"]:
        for module in track["modules"]:
            checks = module.pop("checks")
            module["failing"] = [c["nodeid"] for c in checks if c["outcome"] in ("failed", "error")]
    if not path.is_file():
        committed = committed or committed_dashboard()
        if committed is not None and committed.is_file():
            apply_committed(payload, committed)
    return payload


def committed_dashboard() -> Path | None:
    """docs/PROGRESS.md of the checkout; None when groundup runs outside one (an installed package)."""
    try:
        return repo_root() / "docs" / "PROGRESS.md"
    except GroundupError:
        return None


def apply_committed(payload: dict, markdown: Path) -> None:
    """Fill statuses and counts from a dashboard written by `groundup progress --write-docs`."""
    text = markdown.read_text(encoding="utf-8")
    rows = {m["id"]: m for m in (ROW.match(line) for line in text.splitlines()) if m}
    for track in payload["tracks"]:
        for module in track["modules"]:
            row = rows.get(module["id"])
            if row:
                module["status"] = row["status"]
                counts = (
                    part.split(" ", 1) for part in row["counts"].strip().split(", ") if part != "no checks"
                )
                module["counts"] = {outcome: int(n) for n, outcome in counts}
        track["verified"] = sum(m["status"] == "verified" for m in track["modules"])
    when = re.search(r"Results: ([^,]+),", text)
    payload["results"]["source"] = f"{markdown.name} (the committed dashboard); run `make test` for yours"
    payload["results"]["generated"] = when.group(1) if when else "unknown"
