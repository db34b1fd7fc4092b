"""BLEU equal to sacrebleu's corpus BLEU and ROUGE-1/2/L equal to rouge-score (3.2), on generated
(perturbed) WikiText sentences against their originals."""

from __future__ import annotations

import random

import pytest

from groundup.nlp.clean import sentences
from groundup.nlp.metrics import Rouge, corpus_bleu, lcs_length, tokenize_13a

pytestmark = pytest.mark.module("3.2")
sacrebleu = pytest.importorskip("sacrebleu")


def perturb(sentence: str, rng: random.Random) -> str:
    """A 'generated' sentence: a few words dropped, repeated, reversed or recased."""
    words = sentence.split()
    for _ in range(rng.randint(0, 6)):
        i, op = rng.randrange(len(words)), rng.random()
        if op < 0.3 and len(words) > 1:
            del words[i]
        elif op < 0.6:
            words.insert(i, rng.choice(words))
        elif op < 0.8:
            words[i] = words[i][::-1]
        else:
            words[i] = words[i].upper()
    return " ".join(words)


@pytest.fixture(scope="module")
def pairs(wikitext):
    refs = [s for s in sentences(wikitext) if len(s) > 20][:600]
    rng = random.Random(0)
    return refs, [perturb(s, rng) for s in refs], [perturb(s, rng) for s in refs]


@pytest.mark.parametrize("lowercase", [False, True])
@pytest.mark.parametrize("n_refs", [1, 2])
def test_corpus_bleu_equals_sacrebleu(pairs, lowercase, n_refs):
    refs, hyps, second = pairs
    streams = [refs, second][:n_refs]
    ours = corpus_bleu(hyps, streams, lowercase=lowercase)
    theirs = sacrebleu.corpus_bleu(hyps, streams, lowercase=lowercase, force=True)
    assert ours.score == pytest.approx(theirs.score, abs=1e-9)
    assert ours.precisions == pytest.approx(theirs.precisions, abs=1e-9)
    assert (ours.sys_len, ours.ref_len) == (theirs.sys_len, theirs.ref_len)


@pytest.mark.parametrize(
    ("hyp", "ref"),
    [("the cat", "a dog sat here today"), ("the cat sat", "the cat sat on the mat"), ("", "x y"),
     ("a b c d e", "a b c d e"), ("x y z", "x z y w"), ("Hello, world! 3.14 1-2", "hello , world ! 3.14 1 - 2")],
)  # fmt: skip
def test_bleu_edge_cases_equal_sacrebleu(hyp, ref):
    assert corpus_bleu([hyp], [[ref]]).score == pytest.approx(
        sacrebleu.corpus_bleu([hyp], [[ref]]).score, abs=1e-9
    )


def test_13a_tokenizer_equals_sacrebleu(pairs):
    ref = sacrebleu.tokenizers.tokenizer_13a.Tokenizer13a()
    texts = pairs[1][:300] + [
        "&quot;Hi&quot; &amp; 3,000.5 km-long -- <skipped> (a) [b] {c}",
        "e.g. U.S.A., 1-2",
    ]
    assert [tokenize_13a(t) for t in texts] == [ref(t) for t in texts]


@pytest.mark.parametrize("use_stemmer", [False, True])
def test_rouge_equals_rouge_score(pairs, use_stemmer):
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    refs, hyps, _ = pairs
    ours = Rouge(use_stemmer=use_stemmer)
    theirs = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=use_stemmer)
    for ref, hyp in list(zip(refs, hyps))[:400] + [("", "a"), ("a", ""), ("Running dogs!", "the dog runs")]:
        a, b = ours.score(ref, hyp), theirs.score(ref, hyp)
        for kind in ("rouge1", "rouge2", "rougeL"):
            assert (a[kind].precision, a[kind].recall, a[kind].fmeasure) == pytest.approx(
                tuple(b[kind]), abs=1e-12
            )


def test_lcs():
    assert lcs_length("ABCBDAB", "BDCABA") == 4 and lcs_length([], ["a"]) == 0
    with pytest.raises(ValueError, match="ROUGE type"):
        Rouge(["rougeX"])
