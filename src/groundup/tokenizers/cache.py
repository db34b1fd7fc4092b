"""The chunk cache: each distinct chunk of text is tokenized once.

Every tokenizer here cuts text into chunks (words, regex pieces) and tokenizes each chunk on its
own. Natural text repeats its chunks, so remembering each distinct chunk's tokens turns most of the
work into one dictionary hit. Memory stays bounded on endless or hostile input: the cache is emptied
when it holds `CACHE_LIMIT` chunks or `CACHE_CHARS` characters of chunks (a few very long chunks,
such as a prompt of one 1 MB word, count by their length, not as one entry each).

>>> cache = ChunkCache(list)
>>> cache.join(["ab", "c", "ab"]), len(cache)
(['a', 'b', 'c', 'a', 'b'], 2)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

CACHE_LIMIT = 1 << 18  # distinct chunks remembered before the cache is emptied
CACHE_CHARS = 1 << 22  # total characters of the chunks remembered before the cache is emptied


class ChunkCache:
    """The tokens of chunks, by `tokenize(chunk) -> list`, computed once per distinct chunk."""

    def __init__(
        self, tokenize: Callable[[str], list], limit: int = CACHE_LIMIT, chars: int = CACHE_CHARS
    ) -> None:
        self.tokenize, self.limit, self.chars = tokenize, limit, chars
        self._known: dict[str, list] = {}
        self._size = 0  # characters of the chunks in `_known`

    def __len__(self) -> int:
        return len(self._known)

    def clear(self) -> None:
        self._known.clear()
        self._size = 0

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
        tokens = self.tokenize(chunk)
        if len(chunk) > self.chars:
            return tokens  # longer than the whole budget: not kept
        if len(self._known) >= self.limit or self._size + len(chunk) > self.chars:
            self.clear()
        self._known[chunk] = tokens
        self._size += len(chunk)
        return tokens
