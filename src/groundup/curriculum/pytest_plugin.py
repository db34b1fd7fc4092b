"""pytest plugin: the `module("x.y")` marker and the results file behind `groundup progress`.

Loaded from tests/conftest.py. Each test's modules travel in `user_properties`, so results are gathered
correctly under pytest-xdist too (the controller receives every worker's reports). A run over the whole
suite (no explicit paths), or any run with $GROUNDUP_RESULTS set, writes the file; an ad-hoc run of one
file leaves the last full results alone.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile

import pytest

from groundup.curriculum.registry import MODULES
from groundup.curriculum.results import default_results_path

PROPERTY = "groundup_module"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", 'module(id): the curriculum module this test verifies, e.g. module("0.2")'
    )
    if not hasattr(config, "workerinput"):  # xdist workers report to the controller, which records
        config.pluginmanager.register(ResultsRecorder(config), "groundup-results")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker in item.iter_markers("module"):
            for module_id in marker.args:
                if module_id not in MODULES:
                    raise pytest.UsageError(
                        f"{item.nodeid}: unknown curriculum module {module_id!r}; valid: {', '.join(MODULES)}"
                    )
                item.user_properties.append((PROPERTY, module_id))


def modules_of(properties) -> list[str]:
    return sorted({value for key, value in properties if key == PROPERTY})


def outcome_of(report: pytest.TestReport, previous: str | None) -> str:
    """Fold the setup/call/teardown reports of one test into a single outcome."""
    if report.failed:
        return "failed" if report.when == "call" else "error"
    if report.skipped:
        return "xfailed" if hasattr(report, "wasxfail") else "skipped"
    if report.when == "call":
        return "passed"
    return previous or "not run"


class ResultsRecorder:
    """Collects one entry per test and writes them atomically at the end of the session."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.tests: dict[str, dict] = {}

    def entry(self, nodeid: str, properties) -> dict:
        return self.tests.setdefault(
            nodeid, {"nodeid": nodeid, "modules": modules_of(properties), "outcome": None, "duration": 0.0}
        )

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.config.option.collectonly:
            for item in session.items:
                self.entry(item.nodeid, item.user_properties)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.entry(report.nodeid, report.user_properties)
        if entry["outcome"] not in ("failed", "error"):
            entry["outcome"] = outcome_of(report, entry["outcome"])
        entry["duration"] = round(entry["duration"] + report.duration, 4)

    def should_write(self) -> bool:
        if os.environ.get("GROUNDUP_RESULTS"):
            return True
        return not self.config.args or sorted(self.config.args) == sorted(self.config.getini("testpaths"))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.should_write():
            return
        tests = sorted(self.tests.values(), key=lambda t: t["nodeid"])
        for t in tests:
            t["outcome"] = t["outcome"] or "not run"
        payload = {
            "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "markexpr": self.config.option.markexpr,
            "exitstatus": int(exitstatus),
            "tests": tests,
        }
        path = default_results_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=1)
        os.replace(tmp, path)
