"""The retrieval metrics by hand, the WikiText-2 benchmark's construction, and the grounded-answer
helpers (prompt, citations, attribution, refusal) without a model."""

from __future__ import annotations

import math

import pytest

from groundup.rag.answer import REFUSAL, grounded, messages
from groundup.rag.chunk import Chunk
from groundup.rag.evaluate import (
    bootstrap_ci,
    cloze_questions,
    heading,
    ndcg_at,
    recall_at,
    reciprocal_rank,
    wikitext_benchmark,
)

pytestmark = pytest.mark.module("3.1")

RAW = """
 = Lobster =

 The lobster is a large marine crustacean found in the Atlantic Ocean near Europe .

 = = Description = =

 It grows up to sixty centimetres long and weighs up to six kilograms in the sea .
 Its claws are blue above and yellow below , and it was first described in 1758 .
 = = = Claws = = =
 The larger claw crushes shells and the smaller claw cuts flesh of the prey it catches .

 = Volcano =
 = = Eruptions = =
 Mount Etna erupted many times during the nineteenth and twentieth centuries in Sicily .
"""


def test_metrics_by_hand():
    ranked, relevant = [5, 2, 9, 1], {2, 1, 7}
    assert recall_at(ranked, relevant, 2) == pytest.approx(1 / 3) and recall_at(
        ranked, relevant, 4
    ) == pytest.approx(2 / 3)
    assert reciprocal_rank(ranked, relevant) == 0.5 and reciprocal_rank([3], relevant) == 0.0
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at(ranked, relevant) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)
    mean, lo, hi = bootstrap_ci([0.0, 1.0] * 50)
    assert mean == 0.5 and lo < 0.5 < hi


def test_wikitext_benchmark_construction():
    assert heading(" = = Gameplay = = ") == (2, "Gameplay") and heading(" plain text = ") is None
    bench = wikitext_benchmark(RAW)
    assert len(bench.passages) == 5 and bench.passage_article == ["Lobster"] * 4 + ["Volcano"]
    assert [(q.text, sorted(q.relevant)) for q in bench.queries] == [
        ("Description of Lobster", [1, 2, 3]),  # the sub-section's paragraph belongs to its section
        ("Eruptions of Volcano", [4]),
    ]
    (question, year, source), *_ = cloze_questions(bench.passages, n=5)
    assert year == "1758" and source == 2 and "what year" in question and question.endswith("?")


def test_grounded_answers():
    chunks = [
        Chunk("a.md#0", "a.md", 0, 30, "The bridge opened in 1932."),
        Chunk("b.md#0", "b.md", 0, 9, "Cats purr."),
    ]
    assert "[a.md#0] The bridge opened in 1932." in messages("When?", chunks)[1]["content"]
    cited = grounded("It opened in 1932 [a.md#0] [zz.md#4].", chunks)
    assert cited.citations == ["a.md#0"] and not cited.attributed  # unknown ids are dropped
    attributed = grounded("The bridge opened in 1932.", chunks)
    assert attributed.citations == ["a.md#0"] and attributed.attributed
    refused = grounded(REFUSAL, chunks)
    assert refused.refused and refused.citations == []
    assert grounded("Penguins cannot fly.", chunks).citations == []  # nothing in the context supports it
