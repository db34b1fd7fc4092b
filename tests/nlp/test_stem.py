"""Porter stemmer (3.2) identical to NLTK's PorterStemmer, in both modes, on every word of WikiText-2."""

from __future__ import annotations

import pytest

from groundup.nlp.lemmatize import Lemmatizer
from groundup.nlp.stem import PorterStemmer, measure

pytestmark = pytest.mark.module("3.2")
nltk_porter = pytest.importorskip("nltk.stem.porter")


@pytest.mark.parametrize(
    ("mode", "theirs"), [("nltk", "NLTK_EXTENSIONS"), ("original", "ORIGINAL_ALGORITHM")]
)
def test_every_wikitext_word_stems_like_nltk(wikitext_words, mode, theirs):
    ours, ref = PorterStemmer(mode), nltk_porter.PorterStemmer(getattr(nltk_porter.PorterStemmer, theirs))
    words = wikitext_words if mode == "nltk" else wikitext_words[::4]  # the default mode on all of them
    different = [(w, ours.stem(w), ref.stem(w)) for w in words if ours.stem(w) != ref.stem(w)]
    assert len(wikitext_words) > 15_000
    assert different == []


@pytest.mark.parametrize("mode", ["nltk", "original"])
def test_paper_examples_and_edge_cases(mode):
    ref = nltk_porter.PorterStemmer(
        nltk_porter.PorterStemmer.NLTK_EXTENSIONS if mode == "nltk" else "ORIGINAL_ALGORITHM"
    )
    words = ["caresses", "ponies", "ties", "cats", "feed", "agreed", "plastered", "motoring", "sing", "conflated",
             "troubled", "sized", "hopping", "tanned", "falling", "hissing", "fizzed", "failing", "filing", "happy",
             "sky", "relational", "conditional", "valenci", "digitizer", "conformabli", "radicalli", "differentli",
             "vileli", "analogousli", "vietnamization", "predication", "operator", "feudalism", "decisiveness",
             "hopefulness", "callousness", "formaliti", "sensitiviti", "sensibiliti", "triplicate", "formative",
             "formalize", "electriciti", "electrical", "hopeful", "goodness", "revival", "allowance", "inference",
             "airliner", "gyroscopic", "adjustable", "defensible", "irritant", "replacement", "adjustment",
             "dependent", "adoption", "homologou", "communism", "activate", "angulariti", "homologous", "effective",
             "bowdlerize", "probate", "rate", "cease", "controll", "roll", "dying", "lies", "died", "enjoy", "yyyy",
             "a", "is", "Generously", "ANALOGY", "logi", "biology", "", "y", "syzygy", "ies", "eed"]  # fmt: skip
    ours = PorterStemmer(mode)
    assert [ours.stem(w) for w in words] == [ref.stem(w) for w in words]


def test_measure_counts_vc_runs():
    assert [measure(w) for w in ("tr", "ee", "tree", "y", "by", "trouble", "oats", "ivy", "troubles", "private")] == [
        0, 0, 0, 0, 0, 1, 1, 1, 2, 2,
    ]  # fmt: skip
    with pytest.raises(ValueError, match="mode"):
        PorterStemmer("martin")


def test_lemmatizer_rules_irregulars_and_vocabulary():
    lem = Lemmatizer()
    assert [lem.lemmatize(w) for w in ("cats", "boxes", "churches", "studies", "children", "glass", "policemen")] == [
        "cat", "box", "church", "study", "child", "glass", "policeman",
    ]  # fmt: skip
    assert [lem.lemmatize(w, "v") for w in ("running", "making", "walked", "stopped", "went", "hoping")] == [
        "run", "make", "walk", "stop", "go", "hope",
    ]  # fmt: skip
    assert [lem.lemmatize(w, "a") for w in ("bigger", "happiest", "better")] == ["big", "happy", "good"]
    with_vocab = Lemmatizer({"use", "large", "bus"})
    assert with_vocab.lemmatize("uses", "v") == "use" and with_vocab.lemmatize("larger", "a") == "large"
    assert with_vocab.lemmatize("buses") == "bus"
    with pytest.raises(ValueError, match="pos"):
        lem.lemmatize("cats", "x")
