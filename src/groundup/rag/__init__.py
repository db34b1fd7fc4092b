"""Retrieval-augmented generation on our own parts: documents -> chunks -> BM25 and MiniLM-BERT
embeddings (exact or HNSW search) -> fusion, reranking, HyDE -> SmolLM2 answers that cite chunk ids.

    ingest.py    loaders (.txt, .md, .html) with source metadata
    chunk.py     token windows with overlap, sentence packing, recursive heading/paragraph splitting
    bm25.py      Okapi BM25 and BM25+ (scores equal to rank-bm25)
    dense.py     batched embeddings and exact cosine search
    hnsw.py      the HNSW approximate nearest-neighbour graph
    fusion.py    reciprocal-rank fusion, weighted score fusion, MMR
    index.py     the on-disk index (safetensors + JSON lines), add/delete, format version
    answer.py    the grounded prompt, citations, refusal, HyDE
    evaluate.py  the WikiText-2 retrieval benchmark and its metrics
"""
