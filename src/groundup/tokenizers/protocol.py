"""`Tokenizer`: the one small interface every tokenizer here offers, so callers never ask which class
they hold (`generate`'s streaming decoder, the chat CLI, the OpenAI server, `eval`, the tokenize CLI).

    tok.encode(text, *, add_special_tokens=True, allowed_special=...) -> list[int]
    tok.decode(ids) -> str               # text; bytes that are not valid UTF-8 become U+FFFD
    tok.decode_bytes(ids) -> bytes       # every token's bytes, special ones included; for streaming,
                                         # where a token may end inside a UTF-8 character
    tok.vocab_size                       # one more than the largest id
    tok.special_tokens                   # text -> id of the tokens that never come out of merging
    tok.bos_token_id, tok.eos_token_id   # None when the tokenizer has none
    tok.chat_template                    # a jinja template, None when there is none
    tok.id_to_token(id) -> str           # the token as its vocabulary writes it ('Ġthe', '##ing')

`add_special_tokens=False` adds nothing around the text (no BOS, no [CLS]/[SEP]), and
`allowed_special="all"` turns every special token written in the text into its id; so

    tok.encode(text, add_special_tokens=False, allowed_special="all")

is "the ids of exactly this text" for any of them. The defaults follow each tokenizer's reference:
tiktoken refuses special tokens in the text unless allowed, llama.cpp adds BOS when the GGUF file
says so, BERT adds [CLS] and [SEP] (and its `decode` drops them, as HF's does). Each class keeps its own extras (`add_bos=`, `disallowed_special=`,
WordPiece's `pair`, `max_length`, `padding`); WordPiece's `encode` returns an `Encoding`, which is the
list of ids carrying the tokens, type ids and attention mask.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from groundup.tokenizers.specials import AllowedSpecial


@runtime_checkable
class Tokenizer(Protocol):
    """What `BPETokenizer` (incl. cl100k), `GGUFTokenizer`, `WordPiece` and `CharTokenizer` share."""

    @property
    def vocab_size(self) -> int: ...

    @property
    def special_tokens(self) -> dict[str, int]: ...

    @property
    def bos_token_id(self) -> int | None: ...

    @property
    def eos_token_id(self) -> int | None: ...

    @property
    def chat_template(self) -> str | None: ...

    def encode(
        self, text: str, *, add_special_tokens: bool = ..., allowed_special: AllowedSpecial = ...
    ) -> list[int]: ...

    def decode(self, ids: Iterable[int]) -> str: ...

    def decode_bytes(self, ids: Iterable[int]) -> bytes: ...

    def id_to_token(self, token_id: int) -> str: ...
