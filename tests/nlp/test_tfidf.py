"""Bag of words and TF-IDF (3.2) equal to scikit-learn's CountVectorizer / TfidfVectorizer on WikiText-2."""

from __future__ import annotations

import numpy as np
import pytest

from groundup.nlp.tfidf import CountVectorizer, TfidfVectorizer

pytestmark = pytest.mark.module("3.2")
sk = pytest.importorskip("sklearn.feature_extraction.text")

SETTINGS = [
    {},
    {"sublinear_tf": True, "norm": "l1"},
    {"smooth_idf": False, "min_df": 2, "max_df": 0.5},
    {"ngram_range": (1, 2), "max_features": 3000},
    {"stop_words": ["the", "of", "and"], "binary": True, "norm": None, "use_idf": False},
    {"lowercase": False, "min_df": 0.001, "max_df": 50},
]


@pytest.fixture(scope="module")
def documents(wikitext) -> list[str]:
    lines = wikitext.splitlines()
    return lines[:3000] + ["", "   ", "the of and"]  # empty and stop-word-only documents too


def assert_same(ours, theirs):
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    assert ours.format == "csr" and ours.has_sorted_indices
    assert abs(ours - theirs).max() <= 1e-12


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: ",".join(map(str, s)) or "defaults")
def test_tfidf_equals_scikit_learn(documents, settings):
    ours, ref = TfidfVectorizer(**settings), sk.TfidfVectorizer(**settings)
    assert_same(ours.fit_transform(documents), ref.fit_transform(documents))
    assert ours.vocabulary_ == ref.vocabulary_
    assert list(ours.get_feature_names_out()) == list(ref.get_feature_names_out())
    if settings.get("use_idf", True):
        np.testing.assert_allclose(ours.idf_, ref.idf_, rtol=0, atol=1e-12)
    unseen = ["completely new words", "the war began in 1914", ""]
    assert_same(ours.transform(unseen), ref.transform(unseen))


def test_counts_equal_scikit_learn(documents):
    ours, ref = (
        CountVectorizer(ngram_range=(1, 3), min_df=2),
        sk.CountVectorizer(ngram_range=(1, 3), min_df=2),
    )
    a, b = ours.fit_transform(documents), ref.fit_transform(documents)
    assert_same(a, b)
    assert (a != b).nnz == 0


def test_empty_documents_and_empty_vocabulary_like_scikit_learn():
    rows = TfidfVectorizer().fit_transform(["", "a cat", "", "cat dog"])
    assert rows.shape == (4, 2) and rows[0].nnz == 0 and rows[2].nnz == 0
    for docs in (["", " "], ["a b c"], ["the of"]):
        for cls, kw in (
            (TfidfVectorizer, {"stop_words": ["the", "of"]}),
            (sk.TfidfVectorizer, {"stop_words": ["the", "of"]}),
        ):
            with pytest.raises(ValueError, match="empty vocabulary"):
                cls(**kw).fit_transform(docs)
    with pytest.raises(ValueError, match="not fitted"):
        CountVectorizer().transform(["x"])
