"""The byte-level BPE tokenizer shared by `BasicBPE` and `RegexBPE`: encode, decode, special tokens.

A tokenizer is a table of *mergeable ranks*, `bytes -> id`, in which every single byte has a token
and a lower id means an earlier merge, plus optional special tokens (`"<|endoftext|>" -> 100257`)
that never come out of merging. Encoding one chunk works like tiktoken:

    parts = the chunk's single bytes
    repeat: among adjacent parts whose concatenation is a token, join the pair with the lowest id
            (leftmost first on a tie); stop when no adjacent pair forms a token
    ids   = [ranks[part] for part in parts]

Only the ranks are needed, not the merge list, which is why a tiktoken rank file (one token and its
rank per line) is a complete tokenizer. The loop itself is `merge.py`'s, shared with the GGUF
tokenizer; its pair table is derived from the ranks. Speed comes from the chunk cache (`cache.py`):
natural text repeats its words, so most chunks are a dictionary hit and the per-byte merge loop runs
once per distinct chunk.

Special tokens follow tiktoken's contract: `encode` refuses text that contains a special token unless
it is allowed (so a user cannot smuggle "<|endoftext|>" into a prompt); allowed ones become their id.

Files: `save` writes groundup's text format and `save_tiktoken` a rank file (`io.py`);
`groundup.tokenizers.loaders.load_bpe` reads the first back as a BasicBPE or RegexBPE.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Literal

import regex

from groundup.tokenizers.bytelevel import spell
from groundup.tokenizers.cache import ChunkCache
from groundup.tokenizers.io import BPEFile, write_bpe, write_tiktoken_ranks
from groundup.tokenizers.merge import RankTable, merge
from groundup.tokenizers.specials import AllowedSpecial, allowed_set, specials_regex, split_specials


class BPETokenizer:
    """Byte-level BPE over `ranks` (bytes -> id), with an optional pre-split regex `pattern`.

    >>> tok = BPETokenizer({bytes([b]): b for b in range(256)} | {b"ab": 256}, pattern=None)
    >>> tok.encode("abc")
    [256, 99]
    """

    bos_token_id: int | None = None  # byte-level BPE adds nothing around a text
    chat_template: str | None = None

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
        """Derive the decoder, the split regex, the merge table and an empty chunk cache from the tables."""
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
        self._byte_ids = [self.ranks[bytes([b])] for b in range(256)]
        self._pairs = RankTable(self.ranks, self.decoder)
        self._cache = ChunkCache(self._encode_chunk)

    @property
    def vocab_size(self) -> int:
        """One more than the largest id (ids may have gaps, like cl100k's unused 100256)."""
        return self._vocab_size

    @property
    def eos_token_id(self) -> int | None:
        """The id of "<|endoftext|>" when it is a special token (tiktoken's `eot_token`), else None."""
        return self.special_tokens.get("<|endoftext|>")

    def id_to_token(self, token_id: int) -> str:
        """A mergeable token spelled with GPT-2's byte characters (b' the' -> 'Ġthe'); a special token's text."""
        data = self.token_bytes(token_id)
        return data.decode("utf-8") if token_id in self.special_tokens.values() else spell(data)

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

    def _encode_chunk(self, chunk: str) -> list[int]:
        """Ids of one chunk: its own id when the whole chunk is a token, else the merge loop over its bytes."""
        piece = chunk.encode("utf-8")
        single = self.ranks.get(piece)
        if single is not None:
            return [single]
        byte_ids = self._byte_ids
        return merge([byte_ids[b] for b in piece], self._pairs)

    def encode_ordinary(self, text: str) -> list[int]:
        """Ids of `text` with special tokens treated as plain text."""
        text = _without_surrogates(text)
        chunks = self._split.findall(text) if self._split is not None else ([text] if text else [])
        return self._cache.join(chunks)

    def encode(
        self,
        text: str,
        *,
        add_special_tokens: bool = True,
        allowed_special: AllowedSpecial = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Ids of `text`, with tiktoken's special-token rules.

        `allowed_special`: special tokens encoded as their single id ("all" for every one).
        `disallowed_special`: special tokens whose appearance raises ValueError; "all" means every
        special token not allowed. Any other special token is encoded as ordinary text.
        `add_special_tokens` is accepted for the common `Tokenizer` call: byte-level BPE adds nothing.
        """
        text = _without_surrogates(text)
        allowed = allowed_set(allowed_special, self.special_tokens)
        if disallowed_special == "all":
            disallowed = frozenset(self.special_tokens) - allowed
        else:
            disallowed = frozenset(disallowed_special)
        if disallowed:
            found = specials_regex(disallowed).search(text)
            if found:
                raise ValueError(
                    f"text contains the special token {found.group()!r}, which is disallowed; pass "
                    f"allowed_special={{{found.group()!r}}} to encode it as a special token, or "
                    f"disallowed_special=() to encode it as ordinary text"
                )
        out: list[int] = []
        for part, special in split_specials(text, allowed):
            if special:
                out.append(self.special_tokens[part])
            else:
                out += self.encode_ordinary(part)
        return out

    def encode_batch(self, texts: Iterable[str], **kwargs) -> list[list[int]]:
        """`encode` for each text (the chunk cache is shared, so later texts reuse earlier words)."""
        return [self.encode(text, **kwargs) for text in texts]

    # ---- files ----------------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the tokenizer in groundup's readable text format (`io.py`; read back with `loaders.load_bpe`)."""
        write_bpe(BPEFile(self.pattern, self.ranks, self.special_tokens, self.merges), path)

    def save_tiktoken(self, path: str | Path) -> None:
        """Write the mergeable ranks as a tiktoken rank file (base64 token, space, rank per line)."""
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
