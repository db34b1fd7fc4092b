"""The WikiText-2 retrieval benchmark and its metrics.

Benchmark (built from the raw WikiText-2 lines, no labels needed): every paragraph line is a passage,
stripped of headings. Every second-level section (` = = Heading = = `) with at least one paragraph gives a
query "<heading> of <article title>" (e.g. "Reception of Valkyria Chronicles III"), whose relevant
passages are that section's paragraphs (its sub-sections included). Articles are split train/test by a
hash of their title, so no article is on both sides; the reranker trains on the train queries only.

Cloze questions for answers: a passage sentence holding a four-digit year becomes "<sentence with the year
replaced by 'what year'>?" with that year as the answer, e.g. "... was released in what year?".

Metrics per query, averaged with a bootstrap 95% confidence interval over the queries:
    recall@k = |relevant in top k| / |relevant|,   MRR = 1 / rank of the first relevant,
    nDCG@10  = sum_{relevant i in top 10} 1 / log2(1 + rank_i)  /  the same for an ideal ranking.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass

import numpy as np

YEAR = re.compile(r"\b(1[5-9]\d\d|20[0-2]\d)\b")


@dataclass
class Query:
    text: str
    relevant: set[int]  # passage indices
    article: str
    split: str  # "train" | "test"


@dataclass
class Benchmark:
    passages: list[str]
    passage_article: list[str]
    queries: list[Query]


def heading(line: str) -> tuple[int, str] | None:
    """(level, title) of a WikiText heading line (' = = Gameplay = = ' -> (2, 'Gameplay')), else None."""
    words = line.split()
    if len(words) < 3 or words[0] != "=" or words[-1] != "=":
        return None
    level = next(i for i, w in enumerate(words) if w != "=")
    return level, " ".join(words[level:-level])


def split_of(title: str, test_fraction: float = 0.5) -> str:
    return "test" if zlib.crc32(title.encode()) % 1000 < test_fraction * 1000 else "train"


def wikitext_benchmark(raw: str, min_words: int = 10) -> Benchmark:
    """Passages and section-heading queries from WikiText-2 text (see the module docstring)."""
    passages, owners, queries = [], [], []
    article, section = "", None
    for line in raw.splitlines():
        if found := heading(line):
            level, title = found
            if level == 1:
                article, section = title, None
            elif level == 2:
                section = Query(f"{title} of {article}", set(), article, split_of(article))
                queries.append(section)
            continue
        if len(line.split()) < min_words:
            continue
        if section is not None:
            section.relevant.add(len(passages))
        passages.append(line.strip())
        owners.append(article)
    return Benchmark(passages, owners, [q for q in queries if q.relevant])


def cloze_questions(passages: list[str], n: int = 20, seed: int = 0) -> list[tuple[str, str, int]]:
    """(question, answer year, passage index) from passage sentences with one year (see the docstring)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in rng.permutation(len(passages)):
        for sentence in re.split(r"(?<= \.) ", passages[i]):
            years = YEAR.findall(sentence)
            words = sentence.split()
            if len(years) == 1 and 10 <= len(words) <= 30 and sentence.endswith(" ."):
                question = YEAR.sub("what year", sentence[:-2], count=1).replace(" @-@ ", "-") + " ?"
                out.append((question, years[0], int(i)))
                break
        if len(out) == n:
            break
    return out


def recall_at(ranked: list[int], relevant: set[int], k: int) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant)


def reciprocal_rank(ranked: list[int], relevant: set[int]) -> float:
    return next((1.0 / r for r, item in enumerate(ranked, start=1) if item in relevant), 0.0)


def ndcg_at(ranked: list[int], relevant: set[int], k: int = 10) -> float:
    dcg = sum(1 / math.log2(1 + r) for r, item in enumerate(ranked[:k], start=1) if item in relevant)
    ideal = sum(1 / math.log2(1 + r) for r in range(1, min(k, len(relevant)) + 1))
    return dcg / ideal


def bootstrap_ci(values: list[float], n: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its 95% percentile-bootstrap interval."""
    v = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), (n, len(v)))].mean(1)
    return float(v.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def evaluate(rankings: list[list[int]], queries: list[Query]) -> dict[str, tuple[float, float, float]]:
    """recall@1/5/10/50, MRR and nDCG@10 with 95% CIs, for one ranked list of passage indices per query."""
    metrics = {
        "recall@1": [recall_at(r, q.relevant, 1) for r, q in zip(rankings, queries)],
        "recall@5": [recall_at(r, q.relevant, 5) for r, q in zip(rankings, queries)],
        "recall@10": [recall_at(r, q.relevant, 10) for r, q in zip(rankings, queries)],
        "MRR": [reciprocal_rank(r, q.relevant) for r, q in zip(rankings, queries)],
        "nDCG@10": [ndcg_at(r, q.relevant) for r, q in zip(rankings, queries)],
    }
    return {name: bootstrap_ci(values) for name, values in metrics.items()}
