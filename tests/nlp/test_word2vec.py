"""word2vec (3.2): skip-gram and CBOW with negative sampling learn a planted structure; (slow) on
WikiText-2 our skip-gram agrees with gensim's trained on the same corpus and settings."""

from __future__ import annotations

import numpy as np
import pytest

from groundup.nlp.word2vec import Word2Vec, Word2VecConfig

pytestmark = pytest.mark.module("3.2")

ANIMALS = "cat dog horse cow sheep goat".split()
TOOLS = "hammer saw drill wrench chisel pliers".split()


def planted_corpus(n: int = 1500, seed: int = 0) -> list[list[str]]:
    """Sentences about animals or about tools: words of one topic share contexts, the other never.
    (A 17-word vocabulary: mini-batches of 32 centres, see the module docstring.)"""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        topic, verbs = (
            (ANIMALS, ["eats", "runs", "sleeps"]) if rng.random() < 0.5 else (TOOLS, ["cuts", "fixes"])
        )
        out.append([*rng.choice(topic, 2), rng.choice(verbs), *rng.choice(topic, 2)])
    return out


@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_planted_topics_are_learned(mode):
    cfg = Word2VecConfig(dim=16, window=2, min_count=1, epochs=2, sample=0, mode=mode, seed=0, batch_size=32)
    model = Word2Vec(cfg).fit(planted_corpus())
    within = np.mean([model.similarity(a, b) for a in ANIMALS for b in ANIMALS if a != b])
    across = np.mean([model.similarity(a, b) for a in ANIMALS for b in TOOLS])
    assert within > across + 0.3, (within, across)
    neighbours = [w for w, _ in model.most_similar("cat", topn=5)]
    assert set(neighbours) <= set(ANIMALS) | {"eats", "runs", "sleeps"}


def test_vocabulary_and_errors():
    model = Word2Vec(Word2VecConfig(dim=8, min_count=2, epochs=1)).fit([["a", "b", "a"], ["a", "c", "b"]])
    assert model.words == ["a", "b"] and "c" not in model
    with pytest.raises(KeyError, match="'c' is not in the vocabulary"):
        model["c"]
    with pytest.raises(ValueError, match="mode"):
        Word2VecConfig(mode="glove")
    with pytest.raises(ValueError, match="min_count"):
        Word2Vec(Word2VecConfig(min_count=10)).fit([["a"]])


@pytest.mark.slow
def test_skipgram_agrees_with_gensim_on_wikitext(wikitext):
    """Both trained on WikiText-2 valid + test lines (lowercased, whitespace tokens), skip-gram, 100
    dimensions, window 5, 5 negatives, min_count 5, sample 1e-3, 5 epochs. Agreement: Spearman rank
    correlation of the cosine similarities of 2,000 random pairs of the 1,000 most frequent words, and
    the overlap of their 10 nearest neighbours."""
    gensim = pytest.importorskip("gensim.models")
    from scipy.stats import spearmanr

    corpus = [line.lower().split() for line in wikitext.splitlines() if len(line.split()) > 3]
    cfg = Word2VecConfig(dim=100, window=5, negative=5, min_count=5, sample=1e-3, epochs=5, seed=0)
    ours = Word2Vec(cfg).fit(corpus)
    ref = gensim.Word2Vec(
        corpus,
        vector_size=100,
        window=5,
        negative=5,
        min_count=5,
        sample=1e-3,
        epochs=5,
        sg=1,
        workers=1,
        seed=0,
    )
    frequent = [w for w in ours.words[:1000] if w in ref.wv]
    rng = np.random.default_rng(0)
    pairs = [tuple(rng.choice(frequent, 2, replace=False)) for _ in range(2000)]
    rho = spearmanr([ours.similarity(a, b) for a, b in pairs], [ref.wv.similarity(a, b) for a, b in pairs])[0]
    probes = frequent[50:250]
    overlap = np.mean(
        [
            len({w for w, _ in ours.most_similar(p)} & {w for w, _ in ref.wv.most_similar(p)}) / 10
            for p in probes
        ]
    )
    print(f"Spearman {rho:.3f}, top-10 neighbour overlap {overlap:.1%}")
    for word in ("king", "war", "river", "album", "french"):
        if word in ours and word in ref.wv:
            print(
                word,
                [w for w, _ in ours.most_similar(word, topn=5)],
                [w for w, _ in ref.wv.most_similar(word, topn=5)],
            )
    assert rho > 0.4 and overlap > 0.15
