"""BM25 and BM25+ scores equal the rank-bm25 package's on the same tokenization (WikiText-2 paragraphs)."""

from __future__ import annotations

import numpy as np
import pytest

from groundup.rag.bm25 import BM25, tokenize

pytestmark = pytest.mark.module("3.1")


@pytest.fixture(scope="module")
def paragraphs(data_dir) -> list[list[str]]:
    from groundup.data import load_text

    lines = [line for line in load_text("wikitext2", "valid").splitlines() if len(line.split()) > 20]
    return [tokenize(line) for line in lines[:600]]


QUERIES = [
    "the battle of the river",
    "album released in 2009 by the band",
    "storm hurricane",
    "zzzunknown the",
]


@pytest.mark.parametrize("variant", ["okapi", "plus"])
def test_scores_equal_rank_bm25(paragraphs, variant):
    rank_bm25 = pytest.importorskip("rank_bm25")
    ours = BM25(paragraphs, variant=variant)
    theirs = (rank_bm25.BM25Okapi if variant == "okapi" else rank_bm25.BM25Plus)(paragraphs)
    for query in QUERIES:
        q = tokenize(query)
        np.testing.assert_allclose(ours.scores(q), theirs.get_scores(q), rtol=1e-12, atol=1e-12)


def test_search_ranks_and_bad_input():
    passages = [tokenize(t) for t in ("the cat sat", "a dog barked at the cat", "stocks fell", "cat cat cat")]
    best = [i for i, _ in BM25(passages).search("cat", k=2)]
    assert best[0] == 3 and set(best) <= {0, 1, 3}
    with pytest.raises(ValueError, match="variant"):
        BM25(passages, variant="bm42")
    with pytest.raises(ValueError, match="at least one"):
        BM25([])
