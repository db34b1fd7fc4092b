"""`groundup rag eval`: the WikiText-2 retrieval benchmark (groundup.rag.evaluate) run through every
retriever, the reranker and HyDE, plus grounded answers to cloze questions; JSON and a markdown table.

Costs are cut to fit a CPU: passages are embedded at most `max_length` tokens, the reranker and HyDE
run on the first `rerank_queries` / `hyde_queries` test queries and are compared with the retriever they
improve on that same subset."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from groundup.rag.chunk import Chunk
from groundup.rag.evaluate import cloze_questions, evaluate, wikitext_benchmark
from groundup.rag.fusion import reciprocal_rank_fusion, weighted_fusion
from groundup.rag.index import RagIndex


def build_or_open(bench, embedder, cache: Path | None, split: str, log) -> tuple[RagIndex, float | None]:
    """The index of the benchmark passages (one chunk each), reopened from `cache` when it exists."""
    if cache is not None and (cache / "meta.json").is_file():
        return RagIndex.open(cache, embedder), None
    index = RagIndex(embedder, {"name": "paragraphs"})
    index.chunks = [
        Chunk(f"wikitext2-{split}#{i}", f"wikitext2-{split}", 0, len(p), p)
        for i, p in enumerate(bench.passages)
    ]
    start = time.perf_counter()
    index.vectors = embedder(bench.passages)
    rate = len(bench.passages) / (time.perf_counter() - start)
    log(f"embedded {len(bench.passages)} passages at {rate:.1f}/s")
    if cache is not None:
        index.save(cache)
    return index, rate


def run_study(
    out: Path,
    *,
    split: str = "valid",
    max_length: int = 128,
    rerank_queries: int = 40,
    hyde_queries: int = 20,
    answer_questions: int = 10,
    cache: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    from groundup.data import load_text
    from groundup.rag.answer import Generator, answer, hypothetical_passage
    from groundup.rag.dense import Embedder

    bench = wikitext_benchmark(load_text("wikitext2", split))
    embedder = Embedder(max_length=max_length)
    index, build_rate = build_or_open(bench, embedder, cache, split, log)
    test = [q for q in bench.queries if q.split == "test"]
    train = [q for q in bench.queries if q.split == "train"]
    log(f"{len(bench.passages)} passages, {len(test)} test and {len(train)} train queries")
    qvec = embedder([q.text for q in test])
    depth = 50
    runs: dict[str, list[list[int]]] = {
        "BM25": [],
        "dense (exact)": [],
        "dense (HNSW)": [],
        "hybrid RRF": [],
        "hybrid weighted": [],
    }
    for q, v in zip(test, qvec):
        bm, de = index.bm25(q.text, depth), index.dense(v, depth)
        runs["BM25"].append([i for i, _ in bm])
        runs["dense (exact)"].append([i for i, _ in de])
        runs["dense (HNSW)"].append([i for i, _ in index.dense(v, depth, approximate=True)])
        runs["hybrid RRF"].append([i for i, _ in reciprocal_rank_fusion([de, bm])])
        runs["hybrid weighted"].append([i for i, _ in weighted_fusion(de, bm)])
    table = {name: evaluate(r, test) for name, r in runs.items()}
    hnsw_recall = float(
        np.mean(
            [len(set(a[:10]) & set(b[:10])) / 10 for a, b in zip(runs["dense (HNSW)"], runs["dense (exact)"])]
        )
    )
    log(json.dumps({k: v["nDCG@10"] for k, v in table.items()}))

    subset = {}
    texts = [c.text for c in index.chunks]
    if rerank_queries:
        from groundup.rag.rerank import CrossEncoder, train_cross_encoder

        pairs = []
        for q in train:
            negatives = [i for i, _ in index.bm25(q.text, 10) if i not in q.relevant][:1]
            pairs += [(q.text, texts[i], 1.0) for i in sorted(q.relevant)[:1]]
            pairs += [(q.text, texts[i], 0.0) for i in negatives]
        model = CrossEncoder(max_length=max_length)
        start = time.perf_counter()
        losses = train_cross_encoder(model, pairs)
        log(
            f"reranker: {len(pairs)} pairs, loss {np.mean(losses[:5]):.3f} -> {np.mean(losses[-5:]):.3f} in {time.perf_counter() - start:.0f}s"
        )
        n = min(rerank_queries, len(test))
        reranked = []
        for q, ranked in zip(test[:n], runs["hybrid RRF"][:n]):
            top = [i for i, _ in model.rerank(q.text, ranked[:10], texts)]
            reranked.append(top + ranked[10:])
        subset["rerank"] = {
            "queries": n,
            "pairs": len(pairs),
            "hybrid RRF": evaluate(runs["hybrid RRF"][:n], test[:n]),
            "hybrid RRF + rerank (top 10)": evaluate(reranked, test[:n]),
        }
    generator = Generator(max_tokens=60)
    if hyde_queries:
        n = min(hyde_queries, len(test))
        hyde_dense, hyde_hybrid = [], []
        for q in test[:n]:
            v = embedder([hypothetical_passage(q.text, generator, max_tokens=60)])[0]
            de = index.dense(v, depth)
            hyde_dense.append([i for i, _ in de])
            hyde_hybrid.append([i for i, _ in reciprocal_rank_fusion([de, index.bm25(q.text, depth)])])
        subset["hyde"] = {
            "queries": n,
            "dense (exact)": evaluate(runs["dense (exact)"][:n], test[:n]),
            "dense + HyDE": evaluate(hyde_dense, test[:n]),
            "hybrid RRF": evaluate(runs["hybrid RRF"][:n], test[:n]),
            "hybrid RRF + HyDE": evaluate(hyde_hybrid, test[:n]),
        }
    answers = []
    for question, year, source in cloze_questions(bench.passages, answer_questions):
        hits = index.search(question, k=3, mode="hybrid")
        reply = answer(question, [index.chunks[i] for i, _ in hits], generator)
        cited = [c for c in reply.context if c.id in reply.citations]
        answers.append(
            {
                "question": question,
                "answer": year,
                "reply": reply.text,
                "retrieved_source": any(i == source for i, _ in hits),
                "contains_answer": year in reply.text,
                "cited": reply.citations,
                "faithful": bool(cited) and all(year in c.text for c in cited)
                if year in reply.text
                else None,
                "refused": reply.refused,
            }
        )
        log(f"Q: {question}\n   gold {year}; reply: {reply.text[:160]!r}")
    result = {
        "data": f"WikiText-2 {split}: {len(bench.passages)} paragraph passages, {len(test)} test queries",
        "max_length": max_length,
        "build_chunks_per_s": build_rate,
        "hnsw_recall@10_vs_exact": hnsw_recall,
        "table": table,
        "subsets": subset,
        "answers": answers,
        "answer_summary": summarize_answers(answers),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "rag_eval.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "rag_eval.md").write_text(markdown(result))
    return result


def summarize_answers(answers: list[dict]) -> dict:
    n = len(answers) or 1
    said = [a for a in answers if a["contains_answer"]]
    return {
        "questions": len(answers),
        "source passage retrieved (top 3)": sum(a["retrieved_source"] for a in answers) / n,
        "answer contains the gold year": len(said) / n,
        "of those, cited chunk holds it": sum(bool(a["faithful"]) for a in said) / max(len(said), 1),
        "refused": sum(a["refused"] for a in answers) / n,
    }


def _row(name: str, metrics: dict) -> str:
    cells = [f"{m:.3f} [{lo:.3f}, {hi:.3f}]" for m, lo, hi in metrics.values()]
    return f"| {name} | " + " | ".join(cells) + " |"


def markdown(result: dict) -> str:
    names = list(next(iter(result["table"].values())))
    head = "| retriever | " + " | ".join(names) + " |\n|" + "---|" * (len(names) + 1)
    lines = [f"Data: {result['data']}; mean [95% bootstrap CI].", "", head]
    lines += [_row(name, m) for name, m in result["table"].items()]
    for key, sub in result["subsets"].items():
        lines += ["", f"{key}: first {sub['queries']} test queries", "", head]
        lines += [_row(name, m) for name, m in sub.items() if isinstance(m, dict)]
    lines += ["", "Answers: " + json.dumps(result["answer_summary"])]
    return "\n".join(lines) + "\n"
