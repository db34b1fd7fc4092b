"""groundup.nlp and BERT vs their references: MiniLM embeddings vs sentence-transformers, TF-IDF vs
scikit-learn, Porter stemming vs NLTK, word2vec training vs gensim.

Goals (issue 18): embeddings >= 1.0x sentence-transformers (batch 32, max length 128, same model and
computation); TF-IDF fit+transform within 2x of scikit-learn; Porter words/s >= NLTK; word2vec
words/s within 10x of gensim (optimised C, one worker). Data: WikiText-2 valid + test lines.
Ours and the peer alternate within each round (the order flips every round), so a change in machine
load hits both; the ratio is of the medians.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from benchmarks.harness import Report
from groundup.data import load_text, minilm_dir


def run(report: Report, quick: bool) -> None:
    import torch

    torch.set_num_threads(1)
    lines = [
        line
        for line in (load_text("wikitext2", "valid") + load_text("wikitext2", "test")).splitlines()
        if line.strip()
    ]
    if quick:  # every piece smaller, still 3 alternating rounds: a loaded machine finishes it
        lines = lines[:2000]
    repeats = 3
    bench_embeddings(report, lines[: 96 if quick else 512], repeats)
    bench_tfidf(report, lines, repeats)
    bench_porter(report, sorted({w.lower() for line in lines for w in line.split()}), repeats)
    bench_word2vec(report, [line.lower().split() for line in lines[: 800 if quick else 10_000]], repeats)


def alternate(
    report: Report,
    case: str,
    ours: Callable[[], object],
    peer: Callable[[], object],
    *,
    peer_name: str,
    work: float,
    unit: str,
    repeats: int,
    warmup: int = 1,
) -> dict:
    """Time ours and the peer in alternation for `repeats` rounds; one row with medians and ratio."""
    fns = {"ours": ours, "peer": peer}
    for _ in range(warmup):
        ours(), peer()
    times: dict[str, list[float]] = {"ours": [], "peer": []}
    for r in range(repeats):
        for label in ("ours", "peer") if r % 2 == 0 else ("peer", "ours"):
            start = time.perf_counter()
            fns[label]()
            times[label].append(time.perf_counter() - start)
    ours_s, peer_s = statistics.median(times["ours"]), statistics.median(times["peer"])
    return report.add(
        case=case,
        peer=peer_name,
        ours_median_s=ours_s,
        peer_median_s=peer_s,
        speedup=peer_s / ours_s,
        ours_times_s=times["ours"],
        peer_times_s=times["peer"],
        **{f"ours_{unit}_per_s": work / ours_s, f"peer_{unit}_per_s": work / peer_s},
    )


def bench_embeddings(report: Report, sentences: list[str], repeats: int) -> None:
    from sentence_transformers import SentenceTransformer

    from groundup.models.bert import Bert

    ours = Bert.from_pretrained(minilm_dir())
    peer = SentenceTransformer(str(minilm_dir()), device="cpu")
    peer.max_seq_length = 128
    alternate(
        report,
        "MiniLM embeddings, batch 32, max 128",
        lambda: ours.embed(sentences, batch_size=32, max_length=128),
        lambda: peer.encode(sentences, batch_size=32),
        peer_name="sentence-transformers",
        work=len(sentences),
        unit="sentences",
        repeats=repeats,
    )


def bench_tfidf(report: Report, lines: list[str], repeats: int) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer as Peer

    from groundup.nlp.tfidf import TfidfVectorizer

    alternate(
        report,
        "TF-IDF fit_transform",
        lambda: TfidfVectorizer().fit_transform(lines),
        lambda: Peer().fit_transform(lines),
        peer_name="scikit-learn",
        work=len(lines),
        unit="documents",
        repeats=repeats,
    )


def bench_porter(report: Report, words: list[str], repeats: int) -> None:
    from nltk.stem.porter import PorterStemmer as Peer

    from groundup.nlp.stem import PorterStemmer

    def ours():
        stem = PorterStemmer("nltk", cache_size=None)  # no cache: every word stemmed
        return [stem.stem(w) for w in words]

    def peer():
        stem = Peer()
        return [stem.stem(w) for w in words]

    alternate(
        report,
        "Porter stemming (distinct words)",
        ours,
        peer,
        peer_name="nltk",
        work=len(words),
        unit="words",
        repeats=repeats,
    )


def bench_word2vec(report: Report, corpus: list[list[str]], repeats: int) -> None:
    from gensim.models import Word2Vec as Peer

    from groundup.nlp.word2vec import Word2Vec, Word2VecConfig

    words = sum(map(len, corpus))
    alternate(
        report,
        "word2vec skip-gram, 1 epoch",
        lambda: Word2Vec(Word2VecConfig(epochs=1)).fit(corpus),
        lambda: Peer(corpus, vector_size=100, window=5, negative=5, min_count=5, sg=1, epochs=1, workers=1),
        peer_name="gensim",
        work=words,
        unit="words",
        warmup=0,
        repeats=repeats,
    )
