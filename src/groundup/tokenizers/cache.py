"""The chunk cache: each distinct chunk of text is tokenized once.

Every tokenizer here cuts text into chunks (words, regex pieces) and tokenizes each chunk on its
own. Natural text repeats its chunks, so remembering each distinct chunk's tokens turns most of the
work into one dictionary hit; the cache is emptied when it reaches `CACHE_LIMIT` chunks so that
memory stays bounded on endless input.

>>> cache = ChunkCache(list)
>>> cache.join(["ab", "c", "ab"]), len(cache)
(['a', 'b', 'c', 'a', 'b'], 2)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

CACHE_LIMIT = 1 << 18  # distinct chunks remembered before the cache is emptied


class ChunkCache:
    """The tokens of chunks, by `tokenize(chunk) -> list`, computed once per distinct chunk."""

    def __init__(self, tokenize: Callable[[str], list], limit: int = CACHE_LIMIT) -> None:
        self.tokenize, self.limit = tokenize, limit
        self._known: dict[str, list] = {}

    def __len__(self) -> int:
        return len(self._known)

    def clear(self) -> None:
        self._known.clear()

    def join(self, chunks: Iterable[str]) -> list:
        """The tokens of `chunks`, one chunk after the other (a fresh list)."""
        get, out = self._known.get, []
        for chunk in chunks:
            tokens = get(chunk)
            if tokens is None:
                tokens = self._add(chunk)
            out += tokens
        return out

    def _add(self, chunk: str) -> list:
        if len(self._known) >= self.limit:
            self._known.clear()
        tokens = self._known[chunk] = self.tokenize(chunk)
        return tokens
