"""The byte-level BPE tokenizer shared by `BasicBPE` and `RegexBPE`: encode, decode, special tokens.

A tokenizer is a table of *mergeable ranks*, `bytes -> id`, in which every single byte has a token
and a lower id means an earlier merge, plus optional special tokens (`"<|endoftext|>" -> 100257`)
that never come out of merging. Encoding one chunk works like tiktoken:

    parts = the chunk's single bytes
    repeat: among adjacent parts whose concatenation is a token, join the pair with the lowest id
            (leftmost first on a tie); stop when no adjacent pair forms a token
    ids   = [ranks[part] for part in parts]

Only the ranks are needed, not the merge list, which is why a tiktoken rank file (one token and its
rank per line) is a complete tokenizer. Speed comes from the chunk cache: natural text repeats its
words, so most chunks are a dictionary hit and the per-byte merge loop runs once per distinct chunk.

Special tokens follow tiktoken's contract: `encode` refuses text that contains a special token unless
it is allowed (so a user cannot smuggle "<|endoftext|>" into a prompt); allowed ones become their id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from typing import Literal

import regex

CACHE_LIMIT = 1 << 18  # distinct chunks remembered before the cache is emptied
NO_RANK = 1 << 62  # larger than any id: "these two parts do not form a token"


class BPETokenizer:
    """Byte-level BPE over `ranks` (bytes -> id), with an optional pre-split regex `pattern`.

    >>> tok = BPETokenizer({bytes([b]): b for b in range(256)} | {b"ab": 256}, pattern=None)
    >>> tok.encode("abc")
    [256, 99]
    """

    def __init__(
        self,
        ranks: dict[bytes, int],
        *,
        pattern: str | None,
        special_tokens: dict[str, int] | None = None,
    ) -> None:
        self.ranks = ranks
        self.pattern = pattern
        self.special_tokens: dict[str, int] = dict(special_tokens or {})
        self.merges: list[tuple[tuple[int, int], int]] = []  # filled by training; informative only
        self._rebuild()

    def _rebuild(self) -> None:
        """Derive the decoder, the compiled split regex and an empty chunk cache from the tables."""
        missing = [b for b in range(256) if bytes([b]) not in self.ranks]
        if missing:
            raise ValueError(f"ranks must give every single byte a token; byte 0x{missing[0]:02x} has none")
        self.decoder: dict[int, bytes] = {i: t for t, i in self.ranks.items()}
        for token, i in self.special_tokens.items():
            if i in self.decoder:
                raise ValueError(f"special token {token!r} has id {i}, which a mergeable token already uses")
            self.decoder[i] = token.encode("utf-8")
        self._vocab_size = max(self.decoder) + 1
        self._split = regex.compile(self.pattern) if self.pattern is not None else None
        self._cache: dict[str, list[int]] = {}
        self._special_regex: dict[frozenset[str], regex.Pattern] = {}

    @property
    def vocab_size(self) -> int:
        """One more than the largest id (ids may have gaps, like cl100k's unused 100256)."""
        return self._vocab_size

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes of one token; ValueError for an unknown id."""
        try:
            return self.decoder[token_id]
        except KeyError:
            raise ValueError(f"unknown token id {token_id!r}: ids are 0..{self.vocab_size - 1}") from None

    # ---- training -------------------------------------------------------------------------------

    def train(self, text: str, vocab_size: int) -> BPETokenizer:
        """Learn `vocab_size - 256` merges from `text` (see `groundup.tokenizers.train`); returns self.

        Replaces the current merges and keeps the special tokens (which must not collide with the new ids).
        If a merge spells bytes that an earlier token already has (rare), the earlier id keeps them.
        """
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
            raise ValueError(f"vocab_size must be an int, got {type(vocab_size).__name__} {vocab_size!r}")
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256 (one token per byte), got {vocab_size}")
        from groundup.tokenizers.train import learn_merges

        chunks = Counter(self._split.findall(text)) if self._split is not None else Counter([text])
        merges = learn_merges({c.encode("utf-8"): n for c, n in chunks.items()}, vocab_size - 256)
        vocab = [bytes([b]) for b in range(256)]
        ranks = {t: i for i, t in enumerate(vocab)}
        for (a, b), new_id in merges:
            vocab.append(vocab[a] + vocab[b])
            ranks.setdefault(vocab[new_id], new_id)
        self.ranks, self.merges = ranks, merges
        self._rebuild()
        return self

    def register_special_tokens(self, special_tokens: dict[str, int]) -> None:
        """Add special tokens (text -> id); their ids must not be mergeable-token ids."""
        self.special_tokens.update(special_tokens)
        self._rebuild()

    # ---- encoding -------------------------------------------------------------------------------

    def _bpe(self, piece: bytes) -> list[int]:
        """Merge one chunk's bytes by lowest rank; `pair_ranks[i]` is the rank of parts[i] + parts[i+1]."""
        ranks = self.ranks
        parts = [piece[i : i + 1] for i in range(len(piece))]
        none = NO_RANK
        pair_ranks = [ranks.get(parts[i] + parts[i + 1], none) for i in range(len(parts) - 1)]
        while pair_ranks:
            best = min(pair_ranks)
            if best == none:
                break
            i = pair_ranks.index(best)
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
            del pair_ranks[i]
            if i < len(pair_ranks):
                pair_ranks[i] = ranks.get(parts[i] + parts[i + 1], none)
            if i > 0:
                pair_ranks[i - 1] = ranks.get(parts[i - 1] + parts[i], none)
        return [ranks[p] for p in parts]

    def encode_ordinary(self, text: str) -> list[int]:
        """Ids of `text` with special tokens treated as plain text."""
        text = _without_surrogates(text)
        chunks = self._split.findall(text) if self._split is not None else ([text] if text else [])
        cache, ranks, out = self._cache, self.ranks, []
        for chunk in chunks:
            ids = cache.get(chunk)
            if ids is None:
                piece = chunk.encode("utf-8")
                single = ranks.get(piece)
                ids = [single] if single is not None else self._bpe(piece)
                if len(cache) >= CACHE_LIMIT:
                    cache.clear()
                cache[chunk] = ids
            out += ids
        return out

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | Collection[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Ids of `text`, with tiktoken's special-token rules.

        `allowed_special`: special tokens encoded as their single id ("all" for every one).
        `disallowed_special`: special tokens whose appearance raises ValueError; "all" means every
        special token not allowed. Any other special token is encoded as ordinary text.
        """
        text = _without_surrogates(text)
        allowed = set(self.special_tokens) if allowed_special == "all" else set(allowed_special)
        unknown = allowed - set(self.special_tokens)
        if unknown:
            raise ValueError(
                f"allowed_special names {sorted(unknown)!r}, which are not special tokens of this tokenizer; "
                f"its special tokens are {sorted(self.special_tokens)!r}"
            )
        if disallowed_special == "all":
            disallowed = set(self.special_tokens) - allowed
        else:
            disallowed = set(disallowed_special)
        if disallowed:
            found = self._specials_regex(disallowed).search(text)
            if found:
                raise ValueError(
                    f"text contains the special token {found.group()!r}, which is disallowed; pass "
                    f"allowed_special={{{found.group()!r}}} to encode it as a special token, or "
                    f"disallowed_special=() to encode it as ordinary text"
                )
        if not allowed:
            return self.encode_ordinary(text)
        out: list[int] = []
        # split with a capture group: ordinary, special, ordinary, special, ..., ordinary
        for i, part in enumerate(self._specials_regex(allowed).split(text)):
            if i % 2:
                out.append(self.special_tokens[part])
            elif part:
                out += self.encode_ordinary(part)
        return out

    def encode_batch(self, texts: Iterable[str], **kwargs) -> list[list[int]]:
        """`encode` for each text (the chunk cache is shared, so later texts reuse earlier words)."""
        return [self.encode(text, **kwargs) for text in texts]

    def _specials_regex(self, tokens: Collection[str]) -> regex.Pattern:
        key = frozenset(tokens)
        if key not in self._special_regex:
            longest_first = sorted(key, key=lambda t: (-len(t), t))
            self._special_regex[key] = regex.compile("(" + "|".join(map(regex.escape, longest_first)) + ")")
        return self._special_regex[key]

    # ---- files ----------------------------------------------------------------------------------

    def save(self, path) -> None:
        """Write the tokenizer in groundup's readable text format (see `groundup.tokenizers.files`)."""
        from groundup.tokenizers.files import save_bpe

        save_bpe(self, path)

    @classmethod
    def load(cls, path) -> BPETokenizer:
        """Read a file written by `save`; a BasicBPE or RegexBPE as the file says."""
        from groundup.tokenizers.files import load_bpe

        return load_bpe(path)

    def save_tiktoken(self, path) -> None:
        """Write the mergeable ranks as a tiktoken rank file (base64 token, space, rank per line)."""
        from groundup.tokenizers.files import write_tiktoken_ranks

        write_tiktoken_ranks(self.ranks, path)

    # ---- decoding -------------------------------------------------------------------------------

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The raw bytes of `ids` (a token may end inside a UTF-8 character)."""
        ids = list(ids)
        try:
            return b"".join(map(self.decoder.__getitem__, ids))
        except (KeyError, TypeError):
            bad = next(i for i in ids if not isinstance(i, int) or i not in self.decoder)
            raise ValueError(f"unknown token id {bad!r}: ids are 0..{self.vocab_size - 1}") from None

    def decode(self, ids: Iterable[int]) -> str:
        """Text of `ids`; bytes that are not valid UTF-8 become U+FFFD, as in tiktoken."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")


def _without_surrogates(text: str) -> str:
    """`text` with lone surrogates (not encodable as UTF-8) replaced by U+FFFD first, as tiktoken does."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
