"""The load generator (issue 24, item 5): Poisson arrivals at the asked rate, percentiles, goodput
under an SLO, and one small open-loop run against the tiny model's server where every request gets
exactly its `max_tokens` (`ignore_eos`) and its latencies are ordered as they must be."""

from __future__ import annotations

import asyncio
import statistics

import pytest

from groundup.serve import loadgen

pytestmark = pytest.mark.module("2.1")


def test_poisson_arrivals_have_the_asked_rate_and_lengths_vary():
    specs = loadgen.workload(rate=4.0, count=2000, seed=1)
    gaps = [b.send_at - a.send_at for a, b in zip(specs, specs[1:])]
    assert statistics.mean(gaps) == pytest.approx(0.25, rel=0.08)
    assert statistics.stdev(gaps) == pytest.approx(0.25, rel=0.1)  # exponential: sd = mean
    assert len({s.max_tokens for s in specs}) > 20 and len({len(s.prompt) for s in specs}) > 50
    assert loadgen.workload(4.0, 5, seed=1) == specs[:5]  # seeded


def test_percentiles_and_goodput():
    assert loadgen.percentile([1, 2, 3, 4, 5], 50) == 3 and loadgen.percentile([1, 2], 99) == pytest.approx(
        1.99
    )
    ok = loadgen.RequestResult(ok=True, ttft=0.1, e2e=1.0, output_tokens=10)
    slow = loadgen.RequestResult(ok=True, ttft=2.0, e2e=3.0, output_tokens=10)
    failed = loadgen.RequestResult(ok=False)
    s = loadgen.summarize(1.0, [ok, slow, failed], duration=2.0, slo_ttft=1.0, slo_tpot=0.2)
    assert (s.completed, s.goodput_req_s, s.throughput_tok_s) == (2, 0.5, 10.0)
    assert s.slo_attained == pytest.approx(1 / 3) and ok.tpot == pytest.approx(0.1)
    assert "| 1.00 | 2 |" in loadgen.table([loadgen.asdict(s)])


def test_an_open_loop_run_against_the_server(serve_tiny, char_tokenizer, tmp_path):
    with serve_tiny(char_tokenizer) as (url, engine):
        specs = loadgen.workload(rate=20.0, count=8, seed=2, prompt_words=6, output_tokens=8)
        results = asyncio.run(loadgen.run_load(url, "tiny", specs))
    assert all(r.ok for r in results), [r.error for r in results]
    assert [r.output_tokens for r in results] == [s.max_tokens for s in specs]
    assert all(0 < r.ttft <= r.e2e and len(r.itls) >= 1 for r in results)
    rows = loadgen.as_dicts([loadgen.summarize(20.0, results, 1.0, 5.0, 1.0)])
    loadgen.plot({"tiny": rows}, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 1000
