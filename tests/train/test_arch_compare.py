"""`groundup arch compare` and `groundup arch merge` end to end on a tiny corpus and budget: every
model of the comparison trains through the shared loop, the probes run, and the report lists them."""

from __future__ import annotations

import json

import pytest

from groundup.cli import main
from groundup.train.arch.compare import ARCHS, mean_ci, merge, run_compare, run_probes

pytestmark = pytest.mark.module("3.4")

TINY = dict(max_iters=2, probe_lengths=(16, 32), decode_tokens=4)


@pytest.fixture(scope="module")
def parts(tmp_path_factory, corpus_file):
    """Two comparisons of disjoint models on the same budget and a third process that trains one more
    seed of gpt without probing (as parallel processes would run them)."""
    text = corpus_file.read_text()
    out = tmp_path_factory.mktemp("arch")
    first = run_compare(out / "a", seeds=(0, 1), only=("gpt", "rwkv", "retnet"), text=text, **TINY)
    second = run_compare(out / "b", seeds=(0, 1), only=("moe_gpt", "linear_gpt", "mamba"), text=text, **TINY)
    run_compare(out / "c", seeds=(2,), only=("gpt",), text=text, probes=False, **TINY)
    return out, first, second


def test_compare_trains_every_model_and_writes_the_report(parts):
    out, first, _ = parts
    assert [r["model"] for r in first["summary"]] == ["gpt", "rwkv", "retnet"]
    assert len(first["runs"]) == 6 and all(r["best_val_loss"] > 0 for r in first["runs"])
    report = (out / "a" / "report.md").read_text()
    assert "| rwkv |" in report and "Attention memory" in report
    for name in ("val_loss.png", "memory.png", "decode.png", "compare.json"):
        assert (out / "a" / name).stat().st_size > 0


def test_merge_joins_the_models_of_several_processes(parts, tmp_path):
    out, first, second = parts
    assert main(["arch", "merge", "--out", str(tmp_path), str(out / "a"), str(out / "b")]) == 0
    data = json.loads((tmp_path / "compare.json").read_text())
    assert [r["model"] for r in data["summary"]] == [
        "gpt",
        "rwkv",
        "retnet",
        "moe_gpt",
        "linear_gpt",
        "mamba",
    ]
    assert set(data["state_memory"][0]) == {"T", *ARCHS}
    assert data["settings"]["processes"] == 2
    assert "2 processes" in (tmp_path / "report.md").read_text()
    other = dict(second, settings=dict(second["settings"], max_iters=3))
    with pytest.raises(ValueError, match="max_iters"):
        merge([first, other])


def test_moe_gpt_matches_gpt_active_parameters(parts):
    _, first, second = parts
    gpt = next(r for r in first["summary"] if r["model"] == "gpt")
    moe = next(r for r in second["summary"] if r["model"] == "moe_gpt")
    assert abs(moe["active_params"] - gpt["params"]) / gpt["params"] < 0.01
    assert moe["params"] > 1.5 * moe["active_params"]


def test_probes_measure_the_complexity_table_without_training(tmp_path, corpus_file):
    data = run_probes(
        tmp_path, only=("gpt", "rwkv"), probe_lengths=(16, 64), decode_tokens=4, text=corpus_file.read_text()
    )
    short, long = data["state_memory"]
    assert long["gpt"] > 3 * short["gpt"]  # a KV cache grows with T
    assert long["rwkv"] == short["rwkv"]  # a recurrent state does not
    assert set(data["decode"]) == {"gpt", "rwkv"}
    assert "Decoding cache" in (tmp_path / "probes.md").read_text() and (tmp_path / "memory.png").exists()


def test_merge_takes_the_probes_of_a_probes_only_part(parts, tmp_path, corpus_file):
    """Training processes without probes (their compare.json written after every run) and one
    `arch probes` process for the complexity table make one report; probes alone are refused."""
    out, _, _ = parts
    trained = json.loads((out / "c" / "compare.json").read_text())
    assert [(r["model"], r["seed"]) for r in trained["runs"]] == [("gpt", 2)] and "decode" not in trained
    run_probes(
        out / "p", only=("gpt",), probe_lengths=(16, 32), decode_tokens=4, text=corpus_file.read_text()
    )
    assert main(["arch", "merge", "--out", str(tmp_path), str(out / "c"), str(out / "p")]) == 0
    data = json.loads((tmp_path / "compare.json").read_text())
    assert [(r["model"], r["seeds"]) for r in data["summary"]] == [("gpt", 1)]
    assert data["settings"]["processes"] == 1 and "| gpt | 1 |" in (tmp_path / "report.md").read_text()
    with pytest.raises(ValueError, match="training runs"):
        merge([json.loads((out / "p" / "probes.json").read_text())])


def test_mean_ci_is_the_student_t_interval():
    mean, half = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.303 * 1.0 / 3**0.5)
    assert mean_ci([5.0]) == (5.0, 0.0)


def test_unknown_models_and_bad_options_are_refused(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["arch", "compare", "--out", str(tmp_path), "--only", "gpt,transformerxl"])
    assert exc.value.code == 2 and "transformerxl" in capsys.readouterr().err
    assert main(["arch", "merge", "--out", str(tmp_path), str(tmp_path / "missing")]) == 1
    assert "compare.json" in capsys.readouterr().err
