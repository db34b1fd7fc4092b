import json

import pytest

from groundup.curriculum import MODULES, TRACKS, get_module
from groundup.curriculum import progress as prog
from groundup.curriculum.results import CheckResult, read_results
from groundup.errors import GroundupError

SUITE = """
import pytest

@pytest.mark.module("0.2")
def test_ok():
    pass

@pytest.mark.module("0.2")
def test_also_ok():
    pass

@pytest.mark.module("0.3")
def test_broken():
    assert False

@pytest.mark.module("1.1")
def test_skipped():
    pytest.skip("not here")

def test_untagged():
    pass
"""


def test_module_ids_are_unique_and_cover_architecture():
    ids = [m.id for t in TRACKS for m in t.modules]
    assert len(ids) == len(set(ids)) == len(MODULES)
    assert {"0.1", "0.10", "1.6", "2.2"} <= set(ids)
    with pytest.raises(ValueError, match="valid ids"):
        get_module("9.9")


def run_suite(pytester, monkeypatch, *args):
    results = pytester.path / "results.json"
    monkeypatch.setenv("GROUNDUP_RESULTS", str(results))
    pytester.makeconftest('pytest_plugins = ["groundup.curriculum.pytest_plugin"]')
    pytester.makepyfile(test_suite=SUITE)
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    return outcome, results


def test_plugin_records_outcomes_per_module(pytester, monkeypatch):
    outcome, results = run_suite(pytester, monkeypatch)
    outcome.assert_outcomes(passed=3, failed=1, skipped=1)
    _, checks = read_results(results)
    by_name = {c.nodeid.split("::")[1]: c for c in checks}
    assert by_name["test_ok"].modules == ("0.2",) and by_name["test_ok"].outcome == "passed"
    assert by_name["test_broken"].outcome == "failed"
    assert by_name["test_skipped"].outcome == "skipped"
    assert by_name["test_untagged"].modules == ()


def test_plugin_works_under_xdist(pytester, monkeypatch):
    outcome, results = run_suite(pytester, monkeypatch, "-n", "2")
    outcome.assert_outcomes(passed=3, failed=1, skipped=1)
    _, checks = read_results(results)
    assert {c.nodeid.split("::")[1]: c.modules for c in checks}["test_broken"] == ("0.3",)


def test_collect_only_marks_checks_not_run(pytester, monkeypatch):
    _, results = run_suite(pytester, monkeypatch, "--collect-only")
    _, checks = read_results(results)
    assert len(checks) == 5 and {c.outcome for c in checks} == {"not run"}


def test_unknown_module_id_is_a_usage_error(pytester, monkeypatch):
    monkeypatch.setenv("GROUNDUP_RESULTS", str(pytester.path / "r.json"))
    pytester.makeconftest('pytest_plugins = ["groundup.curriculum.pytest_plugin"]')
    pytester.makepyfile('import pytest\n@pytest.mark.module("7.7")\ndef test_x():\n    pass\n')
    outcome = pytester.runpytest_subprocess()
    assert outcome.ret != 0
    assert "unknown curriculum module '7.7'" in outcome.stderr.str()


def test_status_rules():
    checks = [
        CheckResult("a::1", ("0.2",), "passed"),
        CheckResult("a::2", ("0.2", "0.6"), "passed"),
        CheckResult("b::1", ("0.3",), "failed"),
        CheckResult("c::1", ("0.6",), "skipped"),
    ]
    status = {m.module.id: m.status for ms in prog.module_progress(checks).values() for m in ms}
    assert status["0.2"] == "verified"
    assert status["0.3"] == "failing"
    assert status["0.6"] == "incomplete"
    assert status["0.1"] == "not started"


def test_dashboard_renders_counts_and_json():
    checks = [CheckResult("a::1", ("0.2",), "passed")]
    progress = prog.module_progress(checks)
    text = prog.render_text(progress, {"source": "x"})
    assert "Foundations" in text and "1/10 modules verified" in text and "Overall: 1/" in text
    data = prog.as_json(progress, {})
    foundations = data["tracks"][0]
    assert foundations["verified"] == 1 and foundations["modules"][1]["status"] == "verified"
    assert "| 0.2 | Neural-network framework | verified | 1 passed |" in prog.render_markdown(progress, {})


def test_malformed_results_file(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text(json.dumps({"tests": [{"nodeid": 1}]}))
    with pytest.raises(GroundupError, match="not a groundup results file"):
        read_results(bad)
    with pytest.raises(GroundupError, match="make test"):
        read_results(tmp_path / "missing.json")
