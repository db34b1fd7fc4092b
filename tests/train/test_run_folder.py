"""What `train gpt --out` may do to a folder (issue 14.4, 14.7, 14.8): an existing run is never
replaced without --overwrite, a resume cannot go backwards, bad values are refused before any work,
a failed run leaves no empty folder, and the schedule follows --max-iters."""

from __future__ import annotations

import pytest

from groundup.cli import main
from groundup.errors import GroundupError
from groundup.train.checkpoint import PREV_NAME, load_checkpoint
from groundup.train.config import make_config

pytestmark = pytest.mark.module("0.8")


@pytest.fixture
def args(corpus_file):
    def make(out, *extra):
        flags = [f"--data-path={corpus_file}", "--progress=false", "--threads=1", "--report-chars=0"]
        return ["train", "gpt", "--preset", "tiny", "--out", str(out), *flags, "--eval-interval=3", *extra]

    return make


def test_an_existing_run_is_refused_without_resume_or_overwrite(tmp_path, args, capsys):
    out = tmp_path / "run"
    assert main(args(out, "--max-iters=3")) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(args(out, "--max-iters=3")) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--resume" in err and "--overwrite" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing touched
    assert main(args(out, "--max-iters=3", "--overwrite")) == 0
    assert not (out / PREV_NAME).exists()  # the old run's checkpoint does not survive as ckpt.prev
    with pytest.raises(SystemExit) as exc:
        main(args(out, "--max-iters=6", "--overwrite", "--resume"))
    assert exc.value.code == 2


def test_resume_to_fewer_iterations_than_done_is_refused(tmp_path, args, capsys):
    out = tmp_path / "run"
    assert main(args(out, "--max-iters=6")) == 0
    metrics = (out / "metrics.jsonl").read_text()
    assert main(args(out, "--max-iters=3", "--resume")) == 1
    err = capsys.readouterr().err
    assert "already trained 6 iterations" in err and "--max-iters" in err and err.count("\n") == 1
    assert (out / "metrics.jsonl").read_text() == metrics and load_checkpoint(out).meta["iter"] == 6


@pytest.mark.parametrize(
    ("flag", "named"),
    [
        ("--max-iters=-5", "--max-iters"),
        ("--max-iters=0", "--max-iters"),
        ("--n-embd=0", "--n-embd"),
        ("--lr=inf", "--lr"),
        ("--n-embd=33", "divisible by n_head"),
    ],
)
def test_bad_values_are_usage_errors_before_any_work(tmp_path, args, capsys, flag, named):
    out = tmp_path / "new" / "run"
    with pytest.raises(SystemExit) as exc:
        main(args(out, flag))
    assert exc.value.code == 2 and named in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_a_failed_run_leaves_no_empty_folder(tmp_path, args, capsys):
    out = tmp_path / "new" / "run"
    missing = tmp_path / "missing.txt"
    assert main([*args(out, "--max-iters=3"), f"--data-path={missing}"]) == 1
    assert str(missing) in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_undecodable_corpus_names_the_file_and_the_byte(tmp_path, args, capsys):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9 au lait\n".encode("latin-1") * 100)
    assert main([*args(tmp_path / "run", "--max-iters=3"), f"--data-path={bad}"]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "not UTF-8" in err and "0xe9" in err and "codec" not in err


def test_schedule_follows_max_iters_unless_decay_is_given(tmp_path, args):
    assert make_config("shakespeare-char-cpu", max_iters=60).lr_decay_iters == 60
    assert make_config("shakespeare-char-cpu").lr_decay_iters == 2000
    assert make_config("tiny", max_iters=60, lr_decay_iters=30).lr_decay_iters == 30
    out = tmp_path / "run"
    assert main([*args(out, "--max-iters=6"), "--report-chars=10"]) == 0
    report = (out / "report.md").read_text()
    assert "cosine decay 0.001 -> 0.0001 by iteration 6" in report and "to 2000" not in report


def test_sample_refuses_a_gguf_file_with_what_to_use_instead(tmp_path, capsys):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + bytes(60))
    assert main(["sample", "--ckpt", str(model)]) == 1
    err = capsys.readouterr().err
    assert "GGUF model file, not a training run" in err and f"groundup generate --model {model}" in err


def test_ladder_refuses_existing_rungs_before_training_any(tmp_path, corpus_file, capsys):
    from groundup.train import ladder

    (tmp_path / "mlp").mkdir()
    (tmp_path / "mlp" / "metrics.jsonl").write_text("{}\n")
    with pytest.raises(GroundupError, match="already holds the rung.*mlp.*--overwrite"):
        ladder.run_ladder(
            tmp_path, only=["bigram_counts", "mlp"], text=corpus_file.read_text(), progress=False
        )
    assert not (tmp_path / "bigram_counts").exists()  # refused before the first rung trained
