"""Cutting documents into chunks, each keeping its source and character span [start, end) so a
citation points at the exact text.

- `token_windows`: windows of at most `size` tokens (any tokenizer with `encode`, e.g. our WordPiece or a
  GGUF tokenizer) advancing by `size - overlap`, cut at word boundaries;
- `sentence_chunks`: whole sentences packed up to `max_chars`;
- `recursive_chunks`: split by headings (markdown `#` lines, WikiText ` = Title = ` lines), then blank-line
  paragraphs, then sentences, recursing only into pieces still over `max_chars`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WORD = re.compile(r"\S+")
SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)
HEADING = re.compile(r"^(?:#{1,6} .*| ?=(?: =)* [^=\n]+ =(?: =)* ?)$", re.MULTILINE)
PARAGRAPH = re.compile(r"\n\s*\n")


@dataclass
class Chunk:
    id: str  # "<source>#<n>"
    source: str
    start: int  # character span in the source document's text
    end: int
    text: str


def _chunks(source: str, text: str, spans: list[tuple[int, int]]) -> list[Chunk]:
    out = []
    for start, end in spans:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            out.append(Chunk(f"{source}#{len(out)}", source, start, end, text[start:end]))
    return out


def token_windows(source: str, text: str, tokenizer, size: int = 128, overlap: int = 32) -> list[Chunk]:
    """Windows of at most `size` tokens, the next starting `size - overlap` tokens later."""
    if size < 1 or not 0 <= overlap < size:
        raise ValueError(f"size must be >= 1 and overlap in [0, size), got size={size}, overlap={overlap}")
    words = [(m.start(), m.end()) for m in WORD.finditer(text)]
    counts = [max(1, len(tokenizer.encode(text[s:e]))) for s, e in words]
    spans, first = [], 0
    while first < len(words):
        last, used = first, 0
        while last < len(words) and (used + counts[last] <= size or last == first):
            used += counts[last]
            last += 1
        spans.append((words[first][0], words[last - 1][1]))
        if last == len(words):
            break
        back, next_first = 0, last  # step back over `overlap` tokens, always moving forward
        while next_first - 1 > first and back + counts[next_first - 1] <= overlap:
            next_first -= 1
            back += counts[next_first]
        first = next_first
    return _chunks(source, text, spans)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    end = len(text) if end is None else end
    return [
        (start + m.start(), start + m.end()) for m in SENTENCE.finditer(text[start:end]) if m.group().strip()
    ]


def _pack(spans: list[tuple[int, int]], max_chars: int) -> list[tuple[int, int]]:
    """Consecutive spans merged while the merged span stays within max_chars."""
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and e - out[-1][0] <= max_chars:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def sentence_chunks(source: str, text: str, max_chars: int = 600) -> list[Chunk]:
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    return _chunks(source, text, _pack(sentence_spans(text), max_chars))


def _split(text: str, start: int, end: int, pattern: re.Pattern, keep_match: bool) -> list[tuple[int, int]]:
    """Pieces of text[start:end] cut at `pattern`; a heading match starts the next piece."""
    cuts = [start]
    for m in pattern.finditer(text, start, end):
        cuts.append(m.start() if keep_match else m.end())
    cuts.append(end)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if text[a:b].strip()]


def recursive_chunks(source: str, text: str, max_chars: int = 1000) -> list[Chunk]:
    """Sections by heading, then paragraphs, then sentences; only pieces over max_chars go deeper."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")

    def go(start: int, end: int, level: int) -> list[tuple[int, int]]:
        if end - start <= max_chars or level == 3:
            return [(start, end)]
        if level == 0:
            pieces = _split(text, start, end, HEADING, keep_match=True)
        elif level == 1:
            pieces = _split(text, start, end, PARAGRAPH, keep_match=False)
        else:
            return _pack(sentence_spans(text, start, end), max_chars)
        if len(pieces) <= 1:
            return go(start, end, level + 1)
        return [span for s, e in pieces for span in go(s, e, level + 1)]

    return _chunks(source, text, go(0, len(text), 0))


CHUNKERS = {"tokens": token_windows, "sentences": sentence_chunks, "recursive": recursive_chunks}
