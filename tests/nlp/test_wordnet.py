"""WordNet morphy and the rule-based lemmatizer on a small database in WordNet 3.0's own file format
(tests/nlp/data/wordnet: index.<pos> lines, <pos>.exc exception lists, lexnames, a data.adj header),
checked against NLTK's WordNetLemmatizer reading that same folder (the WordNet data itself is not on
this machine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundup.errors import GroundupError
from groundup.nlp.lemmatize import Lemmatizer
from groundup.nlp.wordnet import WordNet

pytestmark = pytest.mark.module("3.2")

FIXTURE = Path(__file__).parent / "data" / "wordnet"
WORDS = {
    "n": "dogs churches glasses glass boxes flies wolves knives women policemen children mice geese people "
    "data news buses axes us studies houses leaves saws abacuses analyses things goose cats".split(),
    "v": "running ran stopped stopping makes making hoped hoping walked went saw sees studies used was had "
    "flies lying died took written ate left boxes dogged houses uses buses".split(),
    "a": "bigger biggest happier happiest better best larger largest nicer nicest redder later earliest".split(),
    "r": "better best faster hardly earlier well".split(),
}


@pytest.fixture(scope="module")
def wordnet() -> WordNet:
    return WordNet.load(FIXTURE)


@pytest.fixture(scope="module")
def nltk_lemmatizer(monkeypatch_module):
    """NLTK's WordNetLemmatizer with `nltk.corpus.wordnet` replaced by a reader of the fixture folder.
    The folder is added to nltk.data.path (NLTK reads corpora only from there), and the reader's mapping to
    the packaged WordNet (for multilingual data) is switched off: it would look for nltk_data, and the
    lemmatizer does not use it."""
    nltk_corpus = pytest.importorskip("nltk.corpus")
    import nltk.data
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    from nltk.stem import WordNetLemmatizer

    class FixtureReader(WordNetCorpusReader):
        def map_wn(self, version="wordnet"):
            return None

    monkeypatch_module.setattr(nltk.data, "path", [*nltk.data.path, str(FIXTURE)])
    with pytest.warns(UserWarning, match="multilingual"):
        reader = FixtureReader(str(FIXTURE), None)
    monkeypatch_module.setattr(nltk_corpus, "wordnet", reader)
    return WordNetLemmatizer()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_reads_the_database_format(wordnet):
    assert {"dog", "ice_cream", "glasses"} <= wordnet.lemmas["n"] and "abridged" not in wordnet.lemmas["a"]
    assert wordnet.exceptions["a"]["better"] == ["good", "well"] and wordnet.exceptions["v"]["went"] == ["go"]
    assert not any(
        lemma.startswith(("1", "2", "3")) for lemma in wordnet.lemmas["n"]
    )  # license lines skipped


@pytest.mark.parametrize("pos", list(WORDS))
def test_morphy_equals_nltk_wordnet_lemmatizer(wordnet, nltk_lemmatizer, pos):
    ours = [wordnet.lemmatize(w, pos) for w in WORDS[pos]]
    theirs = [nltk_lemmatizer.lemmatize(w, pos) for w in WORDS[pos]]
    assert ours == theirs
    assert [wordnet.morphy(w, pos) for w in WORDS[pos]] == [
        nltk_lemmatizer._morphy(w, pos) for w in WORDS[pos]
    ]


def test_morphy_examples(wordnet):
    assert [wordnet.lemmatize(w) for w in ("dogs", "churches", "wolves", "children", "glasses")] == [
        "dog", "church", "wolf", "child", "glass"
    ]  # fmt: skip
    assert wordnet.lemmatize("saw", "v") == "saw"  # saw is itself a verb and as short as "see"
    assert wordnet.lemmatize("stopped", "v") == "stop" and wordnet.lemmatize("unknownish") == "unknownish"
    with pytest.raises(ValueError, match="pos"):
        wordnet.lemmatize("dogs", "x")
    with pytest.raises(GroundupError, match="index.noun"):
        WordNet.load(FIXTURE.parent)


def test_rule_based_lemmatizer_with_the_wordnet_vocabulary(wordnet):
    """The rule-based Lemmatizer given WordNet's lemmas as its vocabulary agrees with morphy on most of the
    words; where it differs is its documented limits (its own irregular table instead of the .exc files,
    no adverbs, the first rule found instead of the shortest candidate)."""
    agree = total = 0
    for pos in ("n", "v", "a"):
        ours = Lemmatizer(wordnet.lemmas[pos])
        for word in WORDS[pos]:
            agree += ours.lemmatize(word, pos) == wordnet.lemmatize(word, pos)
            total += 1
    print(f"rule-based vs morphy: {agree}/{total} agree")
    assert agree / total > 0.8
