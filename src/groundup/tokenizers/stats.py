"""What a tokenizer makes of a text, for any `protocol.Tokenizer`: the ids with the text of each
token, and how well it compresses (what `groundup tokenize encode|stats` prints).

Both use the common call for "exactly this text": nothing added around it (no BOS, [CLS], [SEP])
and special tokens written in it allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from groundup.tokenizers.protocol import Tokenizer


def text_ids(tokenizer: Tokenizer, text: str) -> list[int]:
    """The ids of exactly `text`: nothing added, special tokens written in it become their ids."""
    return list(tokenizer.encode(text, add_special_tokens=False, allowed_special="all"))


def ids_and_pieces(tokenizer: Tokenizer, text: str) -> tuple[list[int], list[str]]:
    """`text_ids` and the text of each token (a piece ending inside a UTF-8 character shows U+FFFD)."""
    ids = text_ids(tokenizer, text)
    return ids, [tokenizer.decode_bytes([i]).decode("utf-8", errors="replace") for i in ids]


@dataclass(frozen=True)
class TextStats:
    """How well a tokenizer compresses a text."""

    characters: int
    bytes: int
    tokens: int

    @property
    def bytes_per_token(self) -> float:
        return self.bytes / max(self.tokens, 1)

    @property
    def chars_per_token(self) -> float:
        return self.characters / max(self.tokens, 1)


def text_stats(tokenizer: Tokenizer, text: str) -> TextStats:
    return TextStats(len(text), len(text.encode("utf-8")), len(text_ids(tokenizer, text)))
