"""Tokenizer files as plain data: groundup's readable BPE format, tiktoken's rank files and
WordPiece's vocab.txt, each checked on load. No tokenizer class is built here (`loaders.py` does
that), so every class can use these readers and writers without importing the others.

groundup's format (`BPETokenizer.save`, `loaders.load_bpe`) is plain text, one fact per line, tokens spelled with GPT-2's
byte-level characters (`bytelevel.py`) so that ' the' reads as 'Ġthe':

    groundup-bpe 1
    kind regex                      # or basic
    pattern "'(?i:[sdmt]|ll|ve|re)|..."   # JSON string; null for basic
    special "<|endoftext|>" 1024    # zero or more lines
    merges 2                        # then that many "left right new" id lines (empty if not trained)
    97 97 256
    256 98 257
    tokens 258                      # then "id spelling" per mergeable token
    0 Ā
    ...

A tiktoken rank file has one "base64(token) rank" line per mergeable token, ranks 0, 1, 2, ...
A WordPiece vocab.txt has one token per line; its id is the line number - 1.
The readers refuse duplicate or missing entries with an error naming the line.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from pathlib import Path

from groundup.errors import GroundupError
from groundup.tokenizers.bytelevel import spell, unspell

FORMAT = "groundup-bpe"
VERSION = 1


class TokenizerFileError(GroundupError):
    """A tokenizer file that is malformed, or has duplicate or missing entries."""


@dataclass
class BPEFile:
    """What a groundup-bpe file holds: `pattern` None means no pre-split (kind "basic")."""

    pattern: str | None
    ranks: dict[bytes, int]
    special_tokens: dict[str, int] = field(default_factory=dict)
    merges: list[tuple[tuple[int, int], int]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "basic" if self.pattern is None else "regex"


def _check_complete(ranks: dict[bytes, int], path, contiguous: bool = True) -> None:
    """Every byte needs a token; with `contiguous`, ranks must run 0..n-1 without gaps.

    groundup's own files may have a gap: a trained merge that re-spells an existing token (rare)
    keeps its id, but only the earlier token is reachable, so only that one is stored.
    """
    for b in range(256):
        if bytes([b]) not in ranks:
            raise TokenizerFileError(
                f"{path}: byte 0x{b:02x} has no token; a byte-level vocabulary needs all 256"
            )
    if not contiguous:
        return
    ids = sorted(ranks.values())
    for expected, found in enumerate(ids):
        if expected != found:
            raise TokenizerFileError(f"{path}: rank {expected} is missing (ranks must run 0..{len(ids) - 1})")


def read_tiktoken_ranks(path: str | Path) -> dict[bytes, int]:
    """`bytes -> rank` from a tiktoken rank file; TokenizerFileError naming the bad line."""
    ranks: dict[bytes, int] = {}
    line_of_rank: dict[int, int] = {}
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            fields = line.split()
            try:
                if len(fields) != 2:
                    raise ValueError("expected 2 fields")
                token, rank = base64.b64decode(fields[0], validate=True), int(fields[1])
            except (ValueError, binascii.Error) as exc:
                raise TokenizerFileError(
                    f"{path}:{lineno}: expected 'base64-token rank', got {line[:60]!r} ({exc})"
                ) from None
            if token in ranks:
                raise TokenizerFileError(f"{path}:{lineno}: token {token!r} is listed twice")
            if rank in line_of_rank:
                raise TokenizerFileError(
                    f"{path}:{lineno}: rank {rank} already given on line {line_of_rank[rank]}"
                )
            ranks[token], line_of_rank[rank] = rank, lineno
    _check_complete(ranks, path)
    return ranks


def write_tiktoken_ranks(ranks: dict[bytes, int], path: str | Path) -> None:
    """Write `bytes -> rank` as a tiktoken rank file, in rank order."""
    if len(set(ranks.values())) != len(ranks):
        raise ValueError("two tokens share a rank; a tiktoken rank file needs one rank per token")
    lines = [f"{base64.b64encode(t).decode()} {r}\n" for t, r in sorted(ranks.items(), key=lambda kv: kv[1])]
    Path(path).write_text("".join(lines), encoding="ascii")


def write_bpe(data: BPEFile, path: str | Path) -> None:
    """Write `data` in groundup's format (see the module docstring)."""
    lines = [f"{FORMAT} {VERSION}", f"kind {data.kind}", f"pattern {json.dumps(data.pattern)}"]
    lines += [f"special {json.dumps(t)} {i}" for t, i in data.special_tokens.items()]
    lines.append(f"merges {len(data.merges)}")
    lines += [f"{a} {b} {new}" for (a, b), new in data.merges]
    lines.append(f"tokens {len(data.ranks)}")
    lines += [f"{i} {spell(t)}" for t, i in sorted(data.ranks.items(), key=lambda kv: kv[1])]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_bpe(path: str | Path) -> BPEFile:
    """Read a file written by `write_bpe`; TokenizerFileError naming the line on any problem."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    pos = 0

    def take(keyword: str) -> str:
        nonlocal pos
        if pos >= len(lines) or not lines[pos].startswith(keyword + " "):
            found = lines[pos][:60] if pos < len(lines) else "end of file"
            raise TokenizerFileError(f"{path}:{pos + 1}: expected a '{keyword} ...' line, found {found!r}")
        pos += 1
        return lines[pos - 1][len(keyword) + 1 :]

    def fail(reason: str):
        raise TokenizerFileError(f"{path}:{pos}: {reason}")

    if take(FORMAT) != str(VERSION):
        fail(f"unsupported {FORMAT} version; this groundup reads version {VERSION}")
    kind = take("kind")
    if kind not in ("basic", "regex"):
        fail(f"kind must be 'basic' or 'regex', got {kind!r}")
    try:
        pattern = json.loads(take("pattern"))
        specials: dict[str, int] = {}
        while pos < len(lines) and lines[pos].startswith("special "):
            text, _, token_id = take("special").rpartition(" ")
            specials[json.loads(text)] = int(token_id)
        merges = []
        for _ in range(int(take("merges"))):
            pos += 1
            a, b, new = map(int, lines[pos - 1].split())
            merges.append(((a, b), new))
        ranks: dict[bytes, int] = {}
        for _ in range(int(take("tokens"))):
            pos += 1
            token_id, _, spelling = lines[pos - 1].partition(" ")
            token = unspell(spelling)
            if token in ranks:
                fail(f"token {spelling!r} is listed twice")
            ranks[token] = int(token_id)
    except (ValueError, IndexError) as exc:
        fail(f"malformed line {lines[pos - 1][:60] if pos else ''!r} ({exc})")
    if (pattern is None) != (kind == "basic"):
        raise TokenizerFileError(
            f"{path}:3: kind {kind} needs {'a null' if kind == 'basic' else 'a regex'} pattern"
        )
    if len(set(ranks.values())) != len(ranks):
        raise TokenizerFileError(f"{path}: two tokens share an id; every id must be listed once")
    _check_complete(ranks, path, contiguous=False)
    return BPEFile(pattern, ranks, specials, merges)


def read_vocab_txt(path: str | Path) -> dict[str, int]:
    """`token -> id` from a WordPiece vocab.txt (id = line number - 1); errors name the line."""
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the file's final newline
    vocab: dict[str, int] = {}
    for lineno, line in enumerate(lines, 1):
        token = line.rstrip()
        if not token:
            raise TokenizerFileError(
                f"{path}:{lineno}: empty line; every line of vocab.txt must hold a token"
            )
        if token in vocab:
            raise TokenizerFileError(
                f"{path}:{lineno}: token {token!r} is listed twice (first on line {vocab[token] + 1})"
            )
        vocab[token] = lineno - 1
    return vocab
