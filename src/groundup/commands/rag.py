"""`groundup rag index|ask|delete|eval`: index a folder of documents with our MiniLM-BERT and BM25, ask
questions answered by SmolLM2 from the retrieved chunks (streamed, with chunk-id citations), and run the
WikiText-2 retrieval benchmark."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from groundup.argtypes import float_range, non_negative_int, positive_int
from groundup.outputs import add_out_option, out_dir

MODES = ("hybrid", "weighted", "dense", "hnsw", "bm25")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("rag", help="retrieval-augmented question answering over a folder of documents")
    sub = p.add_subparsers(dest="rag_command", metavar="SUBCOMMAND", required=True)

    index = sub.add_parser("index", help="chunk, embed and index a folder (.txt, .md, .html)")
    index.add_argument("folder", type=Path, help="the documents folder")
    index.add_argument("--out", type=Path, required=True, help="index folder (an existing index is updated)")
    index.add_argument(
        "--chunker",
        choices=("recursive", "sentences", "tokens"),
        default="recursive",
        help="how to cut documents",
    )
    index.add_argument(
        "--max-chars", type=positive_int, default=1000, help="chunk size (recursive, sentences)"
    )
    index.add_argument("--tokens", type=positive_int, default=128, help="window size (tokens chunker)")
    index.add_argument("--overlap", type=non_negative_int, default=32, help="window overlap (tokens chunker)")
    index.set_defaults(func=index_command)

    ask = sub.add_parser("ask", help="answer a question from an index, citing chunk ids")
    ask.add_argument("index", type=Path, help="an index folder from `groundup rag index`")
    ask.add_argument("question")
    ask.add_argument("--mode", choices=MODES, default="hybrid", help="retriever (default: hybrid RRF)")
    ask.add_argument("-k", type=positive_int, default=4, help="chunks given to the model")
    ask.add_argument("--mmr", type=float_range(0, 1), default=None, help="diversify with MMR at this lambda")
    ask.add_argument(
        "--hyde", action="store_true", help="embed a hypothetical answer instead of the question"
    )
    ask.add_argument("--no-generate", action="store_true", help="print the retrieved chunks only")
    ask.add_argument("--model", type=Path, default=None, help="chat GGUF (default: bundled SmolLM2)")
    ask.add_argument("--max-tokens", type=positive_int, default=200, help="answer length limit")
    ask.set_defaults(func=ask_command)

    delete = sub.add_parser("delete", help="remove documents (by source path) from an index")
    delete.add_argument("index", type=Path)
    delete.add_argument("sources", nargs="+", help="source paths as listed by `groundup rag list`")
    delete.set_defaults(func=delete_command)

    listing = sub.add_parser("list", help="the documents of an index and their chunk counts")
    listing.add_argument("index", type=Path)
    listing.set_defaults(func=list_command)

    ev = sub.add_parser("eval", help="the WikiText-2 retrieval benchmark: BM25, dense, hybrid, rerank, HyDE")
    add_out_option(ev, "rag-eval", docs="docs/notes/3.1-rag")
    ev.add_argument("--split", choices=("valid", "test"), default="valid", help="WikiText-2 split")
    ev.add_argument("--max-length", type=positive_int, default=128, help="tokens embedded per passage")
    ev.add_argument("--rerank-queries", type=non_negative_int, default=40, help="0 skips the reranker")
    ev.add_argument("--hyde-queries", type=non_negative_int, default=20, help="0 skips HyDE")
    ev.add_argument("--answers", type=non_negative_int, default=10, help="cloze questions answered")
    ev.add_argument("--cache", type=Path, default=None, help="index folder reused between runs")
    ev.set_defaults(func=eval_command)


def _embedder():
    from groundup.rag.dense import Embedder

    return Embedder()


def index_command(args: argparse.Namespace) -> int:
    from groundup.rag.index import RagIndex
    from groundup.rag.ingest import load_folder

    docs = load_folder(args.folder)
    if (args.out / "meta.json").is_file():
        index = RagIndex.open(args.out, _embedder())
    else:
        chunker = {"name": args.chunker}
        if args.chunker == "tokens":
            chunker |= {"size": args.tokens, "overlap": args.overlap}
        else:
            chunker["max_chars"] = args.max_chars
        index = RagIndex(_embedder(), chunker)
    added = index.add(docs)
    index.save(args.out)
    print(f"indexed {len(docs)} documents, {added} chunks ({len(index)} in all) into {args.out}")
    return 0


def ask_command(args: argparse.Namespace) -> int:
    from groundup.rag.answer import Generator, answer_stream, grounded, hypothetical_passage
    from groundup.rag.fusion import mmr
    from groundup.rag.index import RagIndex

    index = RagIndex.open(args.index, _embedder())
    generator = Generator(args.model, max_tokens=args.max_tokens)
    vector = None
    if args.hyde:
        passage = hypothetical_passage(args.question, generator)
        print(f"(HyDE passage: {passage})", file=sys.stderr)
        vector = index.embedder([passage])[0]
    depth = args.k * 4 if args.mmr is not None else args.k
    hits = index.search(args.question, depth, args.mode, query_vector=vector)
    if args.mmr is not None:
        q = vector if vector is not None else index.embed_query(args.question)
        hits = mmr(q, index.vectors, [i for i, _ in hits], args.k, args.mmr)
    chunks = [index.chunks[i] for i, _ in hits]
    for (_, score), c in zip(hits, chunks):
        print(f"[{c.id}] ({score:.3f}) {c.text[:100]!r}", file=sys.stderr)
    if args.no_generate:
        for c in chunks:
            print(
                json.dumps({"id": c.id, "source": c.source, "start": c.start, "end": c.end, "text": c.text})
            )
        return 0
    pieces = []
    for piece in answer_stream(args.question, chunks, generator):
        print(piece, end="", flush=True)
        pieces.append(piece)
    print()
    reply = grounded("".join(pieces), chunks)
    how = " (attributed by word overlap)" if reply.attributed and reply.citations else ""
    print(f"cited: {', '.join(reply.citations) or 'none'}{how}", file=sys.stderr)
    return 0


def delete_command(args: argparse.Namespace) -> int:
    from groundup.rag.index import RagIndex

    index = RagIndex.open(args.index, _embedder())
    dropped = index.delete(args.sources)
    index.save(args.index)
    print(f"deleted {dropped} chunks ({len(index)} left)")
    return 0


def list_command(args: argparse.Namespace) -> int:
    from collections import Counter

    from groundup.rag.index import RagIndex

    index = RagIndex.open(args.index, _embedder())
    for source, n in sorted(Counter(c.source for c in index.chunks).items()):
        print(f"{n:5d}  {source}")
    return 0


def eval_command(args: argparse.Namespace) -> int:
    from groundup.rag.study import run_study

    folder = out_dir(args)
    result = run_study(
        folder,
        split=args.split,
        max_length=args.max_length,
        rerank_queries=args.rerank_queries,
        hyde_queries=args.hyde_queries,
        answer_questions=args.answers,
        cache=args.cache,
    )
    print((folder / "rag_eval.md").read_text())
    print(f"hnsw recall@10 vs exact: {result['hnsw_recall@10_vs_exact']:.3f}; written to {folder}")
    return 0
