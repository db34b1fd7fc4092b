"""Where commands write (issue 14.4, 14.5, 14.8): a user folder by default, the committed reports only
with --write-docs, folders checked before any work; `progress` writes nothing unless asked and stops
quietly on a closed pipe; `doctor` says what is missing and whether it matters."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from groundup.argtypes import UsageError
from groundup.checkout import repo_root
from groundup.cli import build_parser, main
from groundup.errors import GroundupError
from groundup.outputs import add_out_option, chosen_dir, out_dir, prepare_dir, writing_to

ROOT = Path(__file__).resolve().parents[1]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_out_option(parser, "demo", docs="docs/notes/x")
    return parser.parse_args(argv)


def test_out_defaults_to_the_user_folder_and_write_docs_to_the_checkout(tmp_path):
    assert chosen_dir(parse()) == Path("groundup-out/demo")
    assert chosen_dir(parse("--out", str(tmp_path))) == tmp_path
    assert chosen_dir(parse("--write-docs")) == repo_root() / "docs/notes/x"
    with pytest.raises(UsageError, match="--out and --write-docs"):
        chosen_dir(parse("--out", str(tmp_path), "--write-docs"))
    assert out_dir(parse("--out", str(tmp_path / "a" / "b"))).is_dir()


@pytest.mark.parametrize(
    "argv",
    [
        ["quant", "basics"],
        ["quant", "qat-vs-ptq"],
        ["compress", "prune"],
        ["compress", "distill"],
        ["compress", "lora"],
        ["classic", "benchmark"],
        ["grad", "demo", "xor"],
        ["bench", "classic"],
    ],
)
def test_commands_never_default_to_a_committed_folder(argv):
    args = build_parser().parse_args(argv)
    default = chosen_dir(args)
    assert default.parts[0] == "groundup-out" and not default.is_absolute()


def test_a_folder_that_cannot_be_written_is_refused_up_front(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(
        GroundupError, match=r"cannot write to the folder .*file/sub.*choose another with --out"
    ):
        prepare_dir(blocker / "sub")


def test_writing_to_removes_the_folders_it_made_when_the_command_fails(tmp_path):
    with pytest.raises(RuntimeError), writing_to(tmp_path / "a" / "b"):
        raise RuntimeError("failed before writing")
    assert not (tmp_path / "a").exists()
    with pytest.raises(RuntimeError), writing_to(tmp_path / "c" / "d") as out:
        (out / "partial.md").write_text("kept: the command wrote something")
        raise RuntimeError("failed after writing")
    assert (tmp_path / "c" / "d" / "partial.md").is_file()


@pytest.fixture
def results(tmp_path) -> Path:
    path = tmp_path / "results.json"
    tests = [{"nodeid": f"t.py::test_{i}", "modules": ["0.2"], "outcome": "passed"} for i in range(3000)]
    path.write_text(json.dumps({"generated": "now", "markexpr": "", "tests": tests}))
    return path


def test_progress_writes_no_file_unless_asked(results, tmp_path, capsys):
    committed = repo_root() / "docs" / "PROGRESS.md"
    before = committed.read_bytes()
    assert main(["progress", "--json", "--results", str(results)]) == 0
    assert main(["progress", "--results", str(results)]) == 0
    assert committed.read_bytes() == before
    target = tmp_path / "dash.md"
    assert main(["progress", "--results", str(results), "--markdown", str(target)]) == 0
    assert "| 0.2 | Neural-network framework | verified | 3000 passed |" in target.read_text()


def test_progress_refuses_to_write_a_dashboard_without_results(tmp_path, capsys):
    target = tmp_path / "dash.md"
    assert main(["progress", "--results", str(tmp_path / "none.json"), "--markdown", str(target)]) == 1
    assert "no test results" in capsys.readouterr().err and not target.exists()


def test_progress_into_a_closed_pipe_exits_quietly(results):
    """`groundup progress --json | head -c 100`: no 'Broken pipe', no traceback."""
    cmd = [sys.executable, "-m", "groundup", "progress", "--json", "--results", str(results)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and err == ""


def test_bench_results_go_to_the_user_folder_unless_write_docs(tmp_path, monkeypatch):
    from benchmarks import __main__ as bench_main
    from benchmarks.harness import RESULTS_DIR, Report

    monkeypatch.chdir(tmp_path)
    report = Report("demo")
    report.add(case="x", speedup=1.0)
    assert report.save().resolve() == (tmp_path / "groundup-out" / "bench" / "demo.json").resolve()
    chosen = []
    monkeypatch.setattr(bench_main, "run_one", lambda name, quick, directory: chosen.append(directory))
    assert bench_main.main(["classic", "--quick"]) == 0 and bench_main.main(["classic", "--write-docs"]) == 0
    assert chosen == [Path("groundup-out/bench"), RESULTS_DIR]
    with pytest.raises(SystemExit):
        bench_main.main(["classic", "--write-docs", "--out", "x"])


def test_doctor_names_what_is_missing_instead_of_saying_ok(monkeypatch, capsys):
    from groundup.commands import data as data_cli

    monkeypatch.setattr(data_cli, "version_of", lambda dist: None if dist == "tiktoken" else "1.0")
    monkeypatch.setattr(data_cli, "dataset_rows", lambda: [("wikitext2/test", "MISSING", "not found")])
    assert main(["doctor"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert "environment OK" not in last and "tiktoken" in last and "wikitext2/test" in last
    assert "tests and benchmarks" in last and "GROUNDUP_DATA" in last


def test_make_test_prints_the_dashboard_after_the_tests():
    recipe = (ROOT / "Makefile").read_text().split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert recipe.index("pytest") < recipe.index("groundup progress") and "exit $$status" in recipe
    assert "docs-reports:" in (ROOT / "Makefile").read_text()


def test_classic_report_speedup_is_peer_over_ours_and_quick_plots_what_it_ran(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT))
    from examples.classic import benchmark_report as report

    row = {"estimator": "E", "dataset": "iris", "score_ours": 1.0, "score_sklearn": 1.0}
    assert report.speedup({**row, "fit_ours_s": 0.5, "fit_sklearn_s": 2.0}) == 4.0
    ran, plotted = [], []
    monkeypatch.setattr(report, "comparison_rows", lambda datasets: ran.extend(datasets) or [])
    monkeypatch.setattr(report, "pca_scatter", lambda name, out: plotted.append(name) or f"pca_{name}.png")
    monkeypatch.setattr(report, "decision_boundaries", lambda out: "boundaries.png")
    text = report.main(str(tmp_path), quick=True).read_text()
    assert "| speedup |" in text and "Speedup = scikit-learn's fit time / ours" in text
    assert plotted == ran and len(ran) == 2  # --quick plots only the tables it ran


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["quant", "basics"], "groundup.quant.basic_quantizer"),
        (["quant", "qat-vs-ptq"], "groundup.quant.qat_vs_ptq"),
        (["compress", "prune"], "groundup.compress.prune_study"),
        (["compress", "distill"], "groundup.compress.distill_study"),
        (["compress", "lora"], "groundup.compress.lora_study"),
    ],
)
def test_capstones_get_a_created_out_folder_before_any_work(argv, module, tmp_path, monkeypatch, capsys):
    """`quant basics` / `compress prune` never created --out and failed after 30-85 s on their first plot
    (issue 14.5): the folder exists before the capstone starts."""
    import importlib

    seen = []

    def capstone(out, **kwargs):
        seen.append(out.is_dir())
        return write_text_file(out / "README.md", "report")

    monkeypatch.setattr(importlib.import_module(module), "main", capstone)
    target = tmp_path / "new" / "nested"
    assert main([*argv, "--out", str(target), "--threads", "1"]) == 0
    assert seen == [True] and (target / "README.md").read_text() == "report"


def write_text_file(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
