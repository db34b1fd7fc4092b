"""`groundup train gpt|ladder` and `groundup sample` (0.7, 0.8)."""

from __future__ import annotations

import json

import pytest

from groundup.cli import main

pytestmark = pytest.mark.module("0.8")


def test_train_then_sample_then_resume_with_more_iterations(tmp_path, corpus_file, capsys):
    out = tmp_path / "run"
    args = [
        "train",
        "gpt",
        "--preset",
        "tiny",
        "--max-iters=6",
        "--eval-interval",
        "3",
        "--out",
        str(out),
        f"--data-path={corpus_file}",
        "--progress=false",
        "--threads=1",
        "--report-chars=40",
    ]
    assert main(args) == 0
    assert "6 iterations" in capsys.readouterr().out
    report = (out / "report.md").read_text()
    assert "| iterations | 6 |" in report and "![loss curves](loss.png)" in report
    assert main(["sample", "--ckpt", str(out), "--num-chars", "80", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert len(text.rstrip("\n")) >= 70 and set(text) <= set(corpus_file.read_text()) | {"\n"}
    # resume and train further: the log continues where the checkpoint stopped
    assert main([*args[:4], "--max-iters=9", *args[5:], "--resume"]) == 0
    iters = [json.loads(line)["iter"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert max(iters) == 9 and iters.count(6) == 2  # the loss row and the evaluation row at 6


def test_bad_keys_presets_and_architecture_changes_are_one_line_errors(tmp_path, corpus_file, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "gpt", "--learning-rate=3"])
    assert exc.value.code == 2 and "valid keys: model, dataset" in capsys.readouterr().err
    assert main(["train", "gpt", "--preset", "shakespeare-gpu"]) == 1
    assert "valid presets: shakespeare-char-cpu, tiny" in capsys.readouterr().err
    common = [
        "--preset",
        "tiny",
        "--max-iters=3",
        "--eval-interval=3",
        f"--data-path={corpus_file}",
        "--progress=false",
        "--report-chars=0",
    ]
    assert main(["train", "gpt", *common, "--out", str(tmp_path)]) == 0
    assert main(["train", "gpt", *common, "--n-head=4", "--out", str(tmp_path), "--resume"]) == 1
    assert "n_head: 2 -> 4" in capsys.readouterr().err
    assert main(["sample", "--ckpt", str(tmp_path / "nothing")]) == 1


@pytest.mark.module("0.4")
def test_ladder_writes_table_and_plot(tmp_path, corpus_file, monkeypatch):
    from groundup.train import ladder

    monkeypatch.setitem(ladder.SHARED, "eval_iters", 2)
    rows = ladder.run_ladder(
        tmp_path,
        max_iters=3,
        only=["bigram_counts", "mlp"],
        text=corpus_file.read_text(),
        threads=1,
        progress=False,
    )
    assert [r["model"] for r in rows] == ["bigram_counts", "mlp"]
    table = (tmp_path / "ladder.md").read_text()
    assert "| bigram_counts | 0 |" in table and "| mlp |" in table
    assert (tmp_path / "ladder.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="unknown ladder rung"):
        ladder.run_ladder(tmp_path, only=["transformer"])
