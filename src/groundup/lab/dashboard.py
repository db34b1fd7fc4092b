"""The progress dashboard's data: the curriculum's modules and how their tagged tests last ran.

The same computation as `groundup progress` (`curriculum.progress`), read from the last results file
(`make test` writes it); without one, every module shows as not started and the page says how to
produce results. Only failing checks are listed by name: the page is a map, not a test log.
"""

from __future__ import annotations

from pathlib import Path

from groundup.curriculum import progress as prog
from groundup.curriculum.results import default_results_path, read_results


def progress_payload(results_path: Path | None = None) -> dict:
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
    return payload
