"""`RegexBPE`: byte-level BPE inside regex chunks, as GPT-2 and GPT-4 do (minbpe's "regex" tokenizer).

Text is first cut by a split pattern (`"gpt2"`, `"gpt4"` or a custom regex, see `patterns.py`) into
chunks such as "Hello", ",", " world", "123", "\\n\\n"; BPE then merges bytes only inside a chunk.
Training counts each distinct chunk once with its frequency (`train.py`), and encoding caches each
distinct chunk's ids (`cache.py`).

>>> tok = RegexBPE("gpt4").train("hello hello hello world", 256 + 4)
>>> [tok.token_bytes(i) for i in tok.encode("hello world")]
[b'hello', b' ', b'w', b'o', b'r', b'l', b'd']
"""

from __future__ import annotations

from pathlib import Path

from groundup.tokenizers.base import BPETokenizer
from groundup.tokenizers.io import read_tiktoken_ranks
from groundup.tokenizers.patterns import resolve_pattern


class RegexBPE(BPETokenizer):
    """Byte-level BPE with a pre-split `pattern`: "gpt2", "gpt4" (default) or a regex string."""

    def __init__(
        self,
        pattern: str = "gpt4",
        special_tokens: dict[str, int] | None = None,
        ranks: dict[bytes, int] | None = None,
    ):
        super().__init__(
            ranks or {bytes([b]): b for b in range(256)},
            pattern=resolve_pattern(pattern),
            special_tokens=special_tokens,
        )

    @classmethod
    def from_tiktoken(
        cls, path: str | Path, pattern: str = "gpt4", special_tokens: dict[str, int] | None = None
    ) -> RegexBPE:
        """A tokenizer from a tiktoken rank file (base64 token, space, rank per line)."""
        return cls(pattern, special_tokens, read_tiktoken_ranks(path))
