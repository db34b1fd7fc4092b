"""The tokenizer stored in a GGUF file (llama.cpp's byte-level BPE, e.g. SmolLM2), via `from_gguf`.

A GGUF file carries its tokenizer as metadata instead of a `tokenizer.json`:

    tokenizer.ggml.model        "gpt2"  (byte-level BPE; the only kind read here)
    tokenizer.ggml.pre          which pre-split regexes to use, e.g. "smollm"
    tokenizer.ggml.tokens       every token, spelled with GPT-2's byte characters ('Ġthe' = b' the')
    tokenizer.ggml.merges       "left right" per line, best first: rank = line number
    tokenizer.ggml.token_type   1 normal, 3 control (<|im_start|>), 4 user-defined
    tokenizer.ggml.bos/eos_token_id, add_bos_token, add_eos_token; tokenizer.chat_template

Bytes without a token of their own (SmolLM2 has none for 21 bytes, such as 0x04 and 0xff) are
dropped before merging, as transformers does; llama.cpp drops them after merging, which differs
only when such a byte sits inside a chunk between two bytes that merge ("!\\x04!" is [10095] "!!"
here and in transformers, [17, 17] in llama.cpp). Otherwise the ids equal llama.cpp's.

Unlike tiktoken's rank files, the merges are a list of *pairs*: encoding a chunk starts from its
bytes' tokens and repeatedly applies the best-ranked (then leftmost) adjacent pair in the list
(the merge loop of `merge.py`, shared with `BPETokenizer`).
Control and user-defined tokens written in the text are matched whole before any splitting, so a
chat prompt "<|im_start|>user\\nHi<|im_end|>" yields one id for each marker, as in transformers and
llama.cpp.

Interface used by the Llama runtime, the chat CLI and the serving engine (`protocol.Tokenizer` and more):

    tok = from_gguf(path)
    tok.encode(text, add_bos=None, allowed_special="all") -> list[int]   # add_bos None: the file's flag
    tok.encode(text, add_special_tokens=False)                           # no BOS/EOS whatever the file says
    tok.decode(ids, skip_special_tokens=False) -> str                    # invalid UTF-8 -> U+FFFD
    tok.decode_bytes(ids) -> bytes                                       # for streaming partial UTF-8
    tok.bos_token_id, tok.eos_token_id, tok.vocab_size, tok.chat_template (raw jinja or None)
    tok.token_to_id(token) -> int | None, tok.id_to_token(id) -> str
"""

from __future__ import annotations

import operator
import os
from collections.abc import Iterable

import regex

from groundup.errors import GroundupError
from groundup.tokenizers.bytelevel import BYTE_TO_CHAR, CHAR_TO_BYTE, unspell
from groundup.tokenizers.cache import ChunkCache
from groundup.tokenizers.merge import MergeTable, merge
from groundup.tokenizers.patterns import GPT2_ORIGINAL_PATTERN, LLAMA3_SPLIT_PATTERN
from groundup.tokenizers.specials import AllowedSpecial, allowed_set, split_specials

CONTROL, USER_DEFINED = 3, 4

# llama.cpp's pre-tokenizers: regexes applied one after the other, each splitting the pieces of
# the previous one (a digit rule first means every digit stands alone).
PRE_TOKENIZERS: dict[str, tuple[str, ...]] = {
    "gpt2": (GPT2_ORIGINAL_PATTERN,),
    "default": (GPT2_ORIGINAL_PATTERN,),
    "smollm": (r"\p{N}", GPT2_ORIGINAL_PATTERN),
    "starcoder": (r"\p{N}", GPT2_ORIGINAL_PATTERN),
    "refact": (r"\p{N}", GPT2_ORIGINAL_PATTERN),
    "llama-bpe": (LLAMA3_SPLIT_PATTERN,),
    "llama3": (LLAMA3_SPLIT_PATTERN,),
}


class GGUFTokenizer:
    """Byte-level BPE from GGUF metadata; see the module docstring for the interface."""

    def __init__(self, metadata: dict, pre_tokenizer: str | None = None) -> None:
        """`metadata`: a GGUF metadata dict; `pre_tokenizer` overrides the file's `tokenizer.ggml.pre`."""
        model = metadata.get("tokenizer.ggml.model")
        if model != "gpt2":
            raise GroundupError(
                f"tokenizer.ggml.model is {model!r}; only byte-level BPE ('gpt2') vocabularies are supported"
            )
        pre = pre_tokenizer or metadata.get("tokenizer.ggml.pre", "default")
        if pre not in PRE_TOKENIZERS:
            raise GroundupError(
                f"pre-tokenizer {pre!r} is not supported; supported: {', '.join(PRE_TOKENIZERS)}"
            )
        self.tokens: list[str] = list(metadata["tokenizer.ggml.tokens"])
        self.token_types: list[int] = list(
            metadata.get("tokenizer.ggml.token_type") or [1] * len(self.tokens)
        )
        if len(self.token_types) != len(self.tokens):
            raise GroundupError(
                f"{len(self.tokens)} tokens but {len(self.token_types)} token types in the metadata"
            )
        self.vocab: dict[str, int] = {}
        for i, token in enumerate(self.tokens):
            if token in self.vocab:
                raise GroundupError(f"token {token!r} appears twice (ids {self.vocab[token]} and {i})")
            self.vocab[token] = i
        self.pre_tokenizer = pre
        self._splits = [regex.compile(p) for p in PRE_TOKENIZERS[pre]]
        self.bos_token_id: int | None = metadata.get("tokenizer.ggml.bos_token_id")
        self.eos_token_id: int | None = metadata.get("tokenizer.ggml.eos_token_id")
        self.pad_token_id: int | None = metadata.get("tokenizer.ggml.padding_token_id")
        self.add_bos: bool = bool(metadata.get("tokenizer.ggml.add_bos_token", False))
        self.add_eos: bool = bool(metadata.get("tokenizer.ggml.add_eos_token", False))
        self.chat_template: str | None = metadata.get("tokenizer.chat_template")
        self._byte_ids = self._byte_tokens()
        self._merges = self._merge_table(metadata.get("tokenizer.ggml.merges") or [])
        self.special_tokens = {
            t: i
            for i, (t, kind) in enumerate(zip(self.tokens, self.token_types))
            if kind in (CONTROL, USER_DEFINED)
        }
        self._decoded = [
            t.encode("utf-8") if kind in (CONTROL, USER_DEFINED) or not _is_spelled(t) else unspell(t)
            for t, kind in zip(self.tokens, self.token_types)
        ]
        self._cache = ChunkCache(self._encode_chunk)

    def _byte_tokens(self) -> list[int | None]:
        """The token of each byte; None for the few bytes a vocabulary leaves out (SmolLM2 has no
        token for some control bytes). Those bytes are dropped before merging, as transformers does."""
        return [self.vocab.get(BYTE_TO_CHAR[b]) for b in range(256)]

    def _merge_table(self, merges: list[str]) -> MergeTable:
        """(left id, right id) -> (rank, merged id); errors name the merge line."""
        table = MergeTable()
        for rank, line in enumerate(merges):
            left, sep, right = line.partition(" ")
            ids = self.vocab.get(left), self.vocab.get(right), self.vocab.get(left + right)
            if not sep or None in ids:
                raise GroundupError(
                    f"merge #{rank} {line!r}: expected 'left right' with both parts and their join in the vocabulary"
                )
            table.setdefault((ids[0], ids[1]), (rank, ids[2]))
        return table

    # ---- interface ------------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def token_to_id(self, token: str) -> int | None:
        return self.vocab.get(token)

    def id_to_token(self, token_id: int) -> str:
        if not isinstance(token_id, int) or not 0 <= token_id < len(self.tokens):
            raise ValueError(f"unknown token id {token_id!r}: ids are 0..{len(self.tokens) - 1}")
        return self.tokens[token_id]

    def encode(
        self,
        text: str,
        add_bos: bool | None = None,
        allowed_special: AllowedSpecial = "all",
        add_eos: bool | None = None,
        *,
        add_special_tokens: bool = True,
    ) -> list[int]:
        """Ids of `text`; `allowed_special` special tokens written in it become their single id.

        BOS/EOS: `add_bos`/`add_eos` when given, else the file's flags; `add_special_tokens=False`
        turns the file's flags off (the common `Tokenizer` call for "exactly this text").
        """
        allowed = allowed_set(allowed_special, self.special_tokens)
        if add_bos is None:
            add_bos = add_special_tokens and self.add_bos
        if add_eos is None:
            add_eos = add_special_tokens and self.add_eos
        out: list[int] = []
        if add_bos and self.bos_token_id is not None:
            out.append(self.bos_token_id)
        for part, special in split_specials(text, allowed):
            if special:
                out.append(self.special_tokens[part])
            else:
                out += self._encode_ordinary(part)
        if add_eos and self.eos_token_id is not None:
            out.append(self.eos_token_id)
        return out

    def encode_batch(self, texts: Iterable[str], **kwargs) -> list[list[int]]:
        return [self.encode(t, **kwargs) for t in texts]

    def _checked(self, ids: Iterable[int]) -> list[int]:
        """`ids` as a list of Python ints (NumPy integers welcome); ValueError naming a bad one."""
        out, n = [], len(self.tokens)
        for i in ids:
            try:
                i = operator.index(i)
            except TypeError:
                raise ValueError(f"token ids must be integers, got {i!r}") from None
            if not 0 <= i < n:
                raise ValueError(f"unknown token id {i}: ids are 0..{n - 1}")
            out.append(i)
        return out

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The raw bytes of `ids`: a streamer can hold back a token that ends inside a UTF-8 character."""
        decoded = self._decoded
        return b"".join([decoded[i] for i in self._checked(ids)])

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = False) -> str:
        """Text of `ids`; control tokens dropped when `skip_special_tokens`; bad UTF-8 -> U+FFFD."""
        ids = self._checked(ids)
        if skip_special_tokens:
            ids = [i for i in ids if self.token_types[i] != CONTROL]
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    # ---- the algorithm --------------------------------------------------------------------------

    def _pieces(self, text: str) -> list[str]:
        """Apply the pre-tokenizer's regexes in turn; text a regex does not match stays a piece."""
        pieces = [text]
        for split in self._splits:
            next_pieces = []
            for piece in pieces:
                start = 0
                for m in split.finditer(piece):
                    if m.start() > start:
                        next_pieces.append(piece[start : m.start()])
                    next_pieces.append(m.group())
                    start = m.end()
                if start < len(piece):
                    next_pieces.append(piece[start:])
            pieces = next_pieces
        return pieces

    def _encode_ordinary(self, text: str) -> list[int]:
        return self._cache.join(self._pieces(text))

    def _encode_chunk(self, piece: str) -> list[int]:
        """The merge loop over the piece's byte tokens (bytes without a token dropped first)."""
        byte_ids = self._byte_ids
        ids = [byte_ids[b] for b in piece.encode("utf-8", errors="replace") if byte_ids[b] is not None]
        return merge(ids, self._merges)


def _is_spelled(token: str) -> bool:
    """Whether every character of `token` stands for a byte (else its text is its own UTF-8)."""
    return all(c in CHAR_TO_BYTE for c in token)


def from_gguf(path: str | os.PathLike, pre_tokenizer: str | None = None) -> GGUFTokenizer:
    """The tokenizer stored in a GGUF file's metadata (read with `groundup.formats.gguf`).

    `pre_tokenizer` overrides the file's pre-tokenizer name (one of `PRE_TOKENIZERS`).
    """
    from groundup.formats.gguf import GGUFReader

    reader = GGUFReader(path)
    try:
        return GGUFTokenizer(reader.metadata, pre_tokenizer)
    finally:
        reader.close()
