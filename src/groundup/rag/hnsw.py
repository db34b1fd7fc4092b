"""HNSW (Malkov & Yashunin, 2016): approximate nearest neighbours on a layered proximity graph.

Every vector gets a top layer l = floor(-ln(U) * mL), mL = 1 / ln(M), so each layer holds a random
~1/M of the one below. A search descends greedily from the single entry point through the sparse upper
layers (ef = 1), then on layer 0 runs a best-first search keeping the `ef` closest seen (a min-heap of
candidates to expand and a max-heap of results); it stops when the best candidate left is farther than
the worst result. Insertion is that search with `ef_construction`, then links to M neighbours per layer
(2M on layer 0) chosen by the heuristic of the paper (a candidate is kept only if it is closer to the new
point than to every neighbour kept so far, which spreads links across clusters), and each neighbour's
list, if over its limit, is pruned the same way.

Distance is 1 - cosine on unit vectors. Neighbours are scored a whole list at a time with one NumPy
product, the rest is Python heaps: the recall and speed against hnswlib are in docs/notes/3.1-rag.
"""

from __future__ import annotations

import heapq
import math

import numpy as np


class HNSW:
    def __init__(self, dim: int, M: int = 16, ef_construction: int = 100, ef: int = 64, seed: int = 0):
        if M < 2 or ef_construction < 1 or ef < 1:
            raise ValueError(f"M must be >= 2 and ef_construction, ef >= 1; got {M}, {ef_construction}, {ef}")
        self.dim, self.M, self.ef_construction, self.ef = dim, M, ef_construction, ef
        self.mL = 1 / math.log(M)
        self.rng = np.random.default_rng(seed)
        self.vectors = np.zeros((0, dim), dtype=np.float32)
        self.layers: list[list[list[int]]] = []  # layers[l][node] -> neighbour ids (empty above its level)
        self.levels: list[int] = []
        self.entry: int | None = None
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def _dist(self, q: np.ndarray, ids: list[int]) -> np.ndarray:
        return 1.0 - self.vectors[ids] @ q  # (len(ids),)

    def _search_layer(
        self, q: np.ndarray, entries: list[int], ef: int, layer: int
    ) -> list[tuple[float, int]]:
        """The ef closest nodes found from `entries` on `layer`, as (distance, id) sorted ascending."""
        graph = self.layers[layer]
        visited = np.zeros(self.count, dtype=bool)  # a mask: one fancy-index test per neighbour list
        visited[entries] = True
        candidates = [(float(d), e) for d, e in zip(self._dist(q, entries), entries)]  # min-heap
        heapq.heapify(candidates)
        results = sorted((-d, e) for d, e in candidates)[-ef:]  # max-heap of the ef best (negated)
        heapq.heapify(results)
        while candidates:
            d, node = heapq.heappop(candidates)
            worst = -results[0][0]
            if d > worst and len(results) >= ef:
                break
            links = np.array(graph[node], dtype=np.int64)
            fresh = links[~visited[links]] if len(links) else links
            if not len(fresh):
                continue
            visited[fresh] = True
            dists = 1.0 - self.vectors[fresh] @ q  # (len(fresh),)
            if len(results) >= ef:
                keep = dists < worst
                fresh, dists = fresh[keep], dists[keep]
            for dn, n in zip(dists.tolist(), fresh.tolist()):
                if len(results) < ef or dn < -results[0][0]:
                    heapq.heappush(candidates, (dn, n))
                    heapq.heappush(results, (-dn, n))
                    if len(results) > ef:
                        heapq.heappop(results)
        return sorted((-d, n) for d, n in results)

    def _select(self, q: np.ndarray, found: list[tuple[float, int]], m: int) -> list[int]:
        """The paper's neighbour heuristic: keep a candidate only if it is closer to q than to any kept one."""
        kept: list[int] = []
        for d, node in found:
            if len(kept) >= m:
                break
            if not kept or (1.0 - self.vectors[kept] @ self.vectors[node]).min() > d:
                kept.append(node)
        if len(kept) < m:  # fill with the closest skipped ones (hnswlib keeps pruned connections too)
            kept += [n for _, n in found if n not in kept][: m - len(kept)]
        return kept

    def add(self, vectors: np.ndarray) -> None:
        """Insert the rows of `vectors` (n, dim), unit-normalised; their ids continue from len(self)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        start = self.count
        self.vectors = np.concatenate([self.vectors, vectors]) if start else vectors.copy()
        for i in range(len(vectors)):
            self._insert(start + i)

    def _insert(self, node: int) -> None:
        level = int(-math.log(1.0 - self.rng.random()) * self.mL)
        self.levels.append(level)
        while len(self.layers) <= level:
            self.layers.append([[] for _ in range(self.count)])
        for graph in self.layers:
            graph.append([])
        self.count += 1
        if self.entry is None:
            self.entry = node
            return
        q = self.vectors[node]
        top = self.levels[self.entry]
        entries = [self.entry]
        for layer in range(top, level, -1):
            entries = [self._search_layer(q, entries, 1, layer)[0][1]]
        for layer in range(min(level, top), -1, -1):
            found = self._search_layer(q, entries, self.ef_construction, layer)
            limit = 2 * self.M if layer == 0 else self.M
            neighbours = self._select(q, found, self.M)
            self.layers[layer][node] = neighbours
            for n in neighbours:
                links = self.layers[layer][n]
                links.append(node)
                if len(links) > limit:
                    v = self.vectors[n]
                    ranked = sorted(zip(self._dist(v, links).tolist(), links))
                    self.layers[layer][n] = self._select(v, ranked, limit)
            entries = [n for _, n in found]
        if level > top:
            self.entry = node

    def search(self, query: np.ndarray, k: int = 10, ef: int | None = None) -> list[tuple[int, float]]:
        """The approximate k nearest (id, cosine similarity), best first."""
        if self.entry is None:
            return []
        q = np.asarray(query, dtype=np.float32)
        entries = [self.entry]
        for layer in range(self.levels[self.entry], 0, -1):
            entries = [self._search_layer(q, entries, 1, layer)[0][1]]
        found = self._search_layer(q, entries, max(ef or self.ef, k), 0)
        return [(n, 1.0 - d) for d, n in found[:k]]
