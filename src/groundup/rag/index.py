"""The RAG index: chunks with their embeddings, on disk and in memory, searchable three ways.

On disk, a folder:

    meta.json               {"format": "groundup-rag", "format_version": 1, "model": "all-MiniLM-L6-v2",
                             "dim": 384, "chunker": {...}, "count": N}
    embeddings.safetensors  "embeddings" (N, dim) float32, row i = chunk i
    chunks.jsonl            one chunk a line: id, source, start, end, text

It is written whole into a sibling temporary folder which then replaces the old one (two renames), so a
crash leaves the old index or the new one, never half of each. Reopening reads the vectors back (no
embedding is recomputed); BM25 and the HNSW graph are rebuilt from them on first use. Adding documents
embeds only the new chunks; deleting a source drops its rows.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from groundup.errors import GroundupError
from groundup.rag.bm25 import BM25, tokenize
from groundup.rag.chunk import CHUNKERS, Chunk
from groundup.rag.dense import MODEL_NAME, exact_search
from groundup.rag.fusion import reciprocal_rank_fusion, weighted_fusion
from groundup.rag.hnsw import HNSW
from groundup.rag.ingest import Document

FORMAT = "groundup-rag"
FORMAT_VERSION = 1


class RagIndex:
    def __init__(self, embedder, chunker: dict | None = None, model: str = MODEL_NAME):
        self.embedder = embedder  # texts -> (n, dim) unit float32 vectors
        self.chunker = chunker or {"name": "recursive", "max_chars": 1000}
        self.model = model
        self.chunks: list[Chunk] = []
        self.vectors = np.zeros((0, 0), dtype=np.float32)
        self._bm25: BM25 | None = None
        self._hnsw: HNSW | None = None

    def __len__(self) -> int:
        return len(self.chunks)

    # ---- building ------------------------------------------------------------------------------

    def chunk(self, doc: Document) -> list[Chunk]:
        settings = dict(self.chunker)
        name = settings.pop("name")
        if name == "tokens":
            return CHUNKERS[name](doc.source, doc.text, self.embedder.tokenizer, **settings)
        return CHUNKERS[name](doc.source, doc.text, **settings)

    def add(self, docs: list[Document]) -> int:
        """Chunk and embed `docs` (a source already indexed is replaced); returns the chunks added."""
        self.delete([d.source for d in docs], missing_ok=True)
        new = [c for d in docs for c in self.chunk(d)]
        if not new:
            return 0
        vectors = self.embedder([c.text for c in new])
        self.vectors = np.concatenate([self.vectors, vectors]) if len(self.chunks) else vectors
        self.chunks += new
        self._bm25 = self._hnsw = None
        return len(new)

    def delete(self, sources: list[str], missing_ok: bool = False) -> int:
        """Drop every chunk of `sources`; returns how many were dropped."""
        gone = set(sources)
        if not missing_ok and (unknown := gone - self.sources()):
            raise GroundupError(
                f"no document {sorted(unknown)[0]!r} in the index; `groundup rag list` shows them"
            )
        keep = [i for i, c in enumerate(self.chunks) if c.source not in gone]
        dropped = len(self.chunks) - len(keep)
        if dropped:
            self.chunks = [self.chunks[i] for i in keep]
            self.vectors = self.vectors[keep]
            self._bm25 = self._hnsw = None
        return dropped

    def sources(self) -> set[str]:
        return {c.source for c in self.chunks}

    # ---- searching -----------------------------------------------------------------------------

    def _check_nonempty(self) -> None:
        if not self.chunks:
            raise GroundupError(
                "the index is empty: add documents first (`groundup rag index DIR --out INDEX`)"
            )

    def bm25(self, query: str, k: int = 10) -> list[tuple[int, float]]:
        self._check_nonempty()
        if self._bm25 is None:
            self._bm25 = BM25([tokenize(c.text) for c in self.chunks])
        return self._bm25.search(query, k)

    def dense(
        self, query_vector: np.ndarray, k: int = 10, approximate: bool = False
    ) -> list[tuple[int, float]]:
        self._check_nonempty()
        if not approximate:
            return exact_search(self.vectors, query_vector, k)
        if self._hnsw is None:
            self._hnsw = HNSW(self.vectors.shape[1])
            self._hnsw.add(self.vectors)
        return self._hnsw.search(query_vector, k)

    def embed_query(self, query: str) -> np.ndarray:
        return self.embedder([query])[0]

    def search(
        self,
        query: str,
        k: int = 10,
        mode: str = "hybrid",
        query_vector: np.ndarray | None = None,
        depth: int = 50,
    ) -> list[tuple[int, float]]:
        """Chunk indices and scores for `query`: mode bm25 | dense | hnsw | hybrid (RRF) | weighted.
        `query_vector` replaces the query's own embedding (HyDE passes the hypothetical answer's)."""
        if mode == "bm25":
            return self.bm25(query, k)
        vector = self.embed_query(query) if query_vector is None else query_vector
        if mode in ("dense", "hnsw"):
            return self.dense(vector, k, approximate=mode == "hnsw")
        if mode == "hybrid":
            return reciprocal_rank_fusion([self.dense(vector, depth), self.bm25(query, depth)])[:k]
        if mode == "weighted":
            return weighted_fusion(self.dense(vector, depth), self.bm25(query, depth))[:k]
        raise ValueError(f"mode must be bm25, dense, hnsw, hybrid or weighted, got {mode!r}")

    # ---- disk ----------------------------------------------------------------------------------

    def meta(self) -> dict:
        dim = int(self.vectors.shape[1]) if len(self.chunks) else 0
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": self.model,
            "dim": dim,
            "chunker": self.chunker,
            "count": len(self.chunks),
        }

    def save(self, folder: str | Path) -> Path:
        """Write the index to `folder` atomically (see the module docstring)."""
        from groundup.formats.safetensors import save_file

        folder = Path(folder)
        tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_file(
            {"embeddings": np.ascontiguousarray(self.vectors, dtype=np.float32)},
            tmp / "embeddings.safetensors",
        )
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
            for c in self.chunks:
                f.write(json.dumps(asdict(c), ensure_ascii=False) + "\n")
        (tmp / "meta.json").write_text(json.dumps(self.meta(), indent=1) + "\n")
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        if folder.exists():
            if not (folder / "meta.json").is_file():
                shutil.rmtree(tmp)
                raise GroundupError(f"{folder} exists and is not a RAG index; choose a new --out folder")
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
        return folder

    @classmethod
    def open(cls, folder: str | Path, embedder, model: str = MODEL_NAME) -> RagIndex:
        """Reopen a saved index; its format version and embedding model must match this code's and `model`."""
        from groundup.formats.safetensors import SafetensorsFile

        folder = Path(folder)
        meta_path = folder / "meta.json"
        if not meta_path.is_file():
            raise GroundupError(
                f"{folder} is not a RAG index (no meta.json); build one with `groundup rag index`"
            )
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise GroundupError(
                f"{folder} has format {meta.get('format')!r} version {meta.get('format_version')!r}; this groundup "
                f"reads {FORMAT!r} version {FORMAT_VERSION}: rebuild it with `groundup rag index`"
            )
        if meta.get("model") != model:
            raise GroundupError(
                f"{folder} was built with the embedding model {meta.get('model')!r}, but the query embedder is "
                f"{model!r}; query it with the same model or rebuild the index"
            )
        index = cls(embedder, meta["chunker"], model)
        with open(folder / "chunks.jsonl", encoding="utf-8") as f:
            index.chunks = [Chunk(**json.loads(line)) for line in f if line.strip()]
        vectors = np.array(SafetensorsFile(folder / "embeddings.safetensors").get("embeddings"))
        if len(vectors) != len(index.chunks):
            raise GroundupError(
                f"{folder}: {len(vectors)} embeddings for {len(index.chunks)} chunks; rebuild it"
            )
        index.vectors = vectors
        return index
