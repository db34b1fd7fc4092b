"""`CharTokenizer`: one token per character, the vocabulary a character-level GPT is trained with.

The vocabulary is the sorted distinct characters of a training text and a character's id is its
position in that list (nanoGPT's shakespeare_char, Karpathy's "Let's build GPT"). There are no
special tokens and nothing is added around a text; a character outside the vocabulary cannot be
encoded, so `encode` names the missing ones instead of guessing.

>>> tok = CharTokenizer.from_text("hello world")
>>> tok.chars, tok.encode("low")
([' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w'], [4, 5, 7])
>>> tok.decode([3, 2, 4, 4, 5])
'hello'
"""

from __future__ import annotations

import operator
from collections.abc import Iterable

from groundup.errors import GroundupError
from groundup.tokenizers.specials import AllowedSpecial, allowed_set


class CharTokenizer:
    """Characters `chars` (distinct; `from_text` sorts them), id = position; see the module docstring."""

    bos_token_id: int | None = None
    eos_token_id: int | None = None
    chat_template: str | None = None

    def __init__(self, chars: list[str]) -> None:
        chars = list(chars)
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError("chars must be single characters")
        if len(set(chars)) != len(chars):
            raise ValueError("chars must be distinct; build them with CharTokenizer.from_text(text)")
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}
        self.special_tokens: dict[str, int] = {}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """The vocabulary of `text`: its sorted distinct characters."""
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def id_to_token(self, token_id: int) -> str:
        return self.chars[self._checked(token_id)]

    def encode(
        self, text: str, *, add_special_tokens: bool = True, allowed_special: AllowedSpecial = "all"
    ) -> list[int]:
        """Ids of the characters of `text`; GroundupError naming (up to 10 of) the unknown characters.

        `add_special_tokens` and `allowed_special` are accepted for the common `Tokenizer` call; there
        are no special tokens to add or allow.
        """
        allowed_set(allowed_special, self.special_tokens)
        missing = sorted(set(text) - self.index.keys())
        if missing:
            raise GroundupError(
                f"characters {missing[:10]} are not in the vocabulary of {self.vocab_size} characters; "
                f"build the vocabulary from a text that contains them (CharTokenizer.from_text)"
            )
        index = self.index
        return [index[c] for c in text]

    def decode(self, ids: Iterable[int]) -> str:
        chars = self.chars
        return "".join(chars[self._checked(i)] for i in ids)

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """UTF-8 of the decoded text."""
        return self.decode(ids).encode("utf-8")

    def _checked(self, token_id: int) -> int:
        """`token_id` as an int in range (NumPy and torch integers welcome); ValueError otherwise."""
        try:
            i = operator.index(token_id)
        except TypeError:
            raise ValueError(f"token ids must be integers, got {token_id!r}") from None
        if not 0 <= i < len(self.chars):
            raise ValueError(f"unknown token id {i}: ids are 0..{len(self.chars) - 1}")
        return i
