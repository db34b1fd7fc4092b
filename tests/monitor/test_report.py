"""The drift report on CSV files, the `groundup monitor` command and the shifted-classifier demo."""

from __future__ import annotations

import numpy as np
import pytest

from groundup.cli import main
from groundup.errors import GroundupError
from groundup.monitor import demo, report

pytestmark = pytest.mark.module("3.7")


def write(path, header, rows):
    path.write_text("\n".join([",".join(header), *(",".join(map(str, r)) for r in rows)]) + "\n")
    return path


@pytest.fixture
def tables(tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    ref = zip(rng.normal(size=n), rng.normal(size=n), rng.choice(list("abc"), n), strict=True)
    cur = zip(
        rng.normal(size=n),
        rng.normal(1.0, 1, size=n),
        rng.choice(list("abc"), n, p=[0.6, 0.3, 0.1]),
        strict=True,
    )
    header = ["steady", "moved", "colour"]
    return write(tmp_path / "ref.csv", header, ref), write(tmp_path / "cur.csv", header, cur)


def test_report_flags_the_moved_columns(tables):
    ref, cur = (report.read_table(p) for p in tables)
    assert ref["steady"].dtype == np.float64 and ref["colour"].dtype.kind == "U"
    scores = {s.name: s for s in report.compare_tables(ref, cur)}
    assert scores["moved"].severity() == "major" and scores["moved"].ks > 0.3
    assert scores["colour"].drifted() and scores["colour"].chi2 > 50
    assert scores["steady"].severity() == "stable"


@pytest.mark.parametrize("suffix", [".md", ".html"])
def test_command_writes_the_report(tables, tmp_path, capsys, suffix):
    out = tmp_path / "reports" / f"drift{suffix}"
    assert main(["monitor", str(tables[0]), str(tables[1]), "--out", str(out)]) == 0
    text = out.read_text()
    assert "2 of 3 features drifted" in capsys.readouterr().out
    assert ("<table>" in text) == (suffix == ".html") and "moved" in text and "major" in text


def test_mismatched_tables_are_a_user_error(tables, tmp_path):
    other = write(tmp_path / "other.csv", ["steady"], [[1.0], [2.0]])
    with pytest.raises(GroundupError, match="lacks"):
        report.compare_tables(report.read_table(tables[0]), report.read_table(other))
    assert main(["monitor", str(tables[0]), str(other), "--out", str(tmp_path / "r.md")]) == 1


def test_demo_classifier_loses_accuracy_and_the_report_names_the_shifted_inputs(tmp_path):
    result = demo.main(tmp_path)
    acc = result["accuracy"]
    assert acc["current"] > 0.93 and acc["shifted"] < acc["current"] - 0.03
    assert result["flagged"]["current"] == []
    assert result["flagged"]["shifted"] == sorted([*demo.NAMES.values(), "site"])
