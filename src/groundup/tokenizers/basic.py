"""`BasicBPE`: byte-level BPE over the raw text, with no pre-split (minbpe's "basic" tokenizer).

The simplest BPE: the whole text is one sequence of bytes, so merges may cross spaces and
punctuation (a token for "e t" or "d." can appear). It is the first step of the lecture; `RegexBPE`
fixes the cross-word merges. Without a pre-split there is a single chunk, so training rewrites the
whole text for every merge (use it on small texts), and encoding merges the whole text as one chunk
(O(n log n), `merge.py`).

>>> tok = BasicBPE().train("aaabdaaabac", 256 + 3)
>>> tok.merges
[((97, 97), 256), ((97, 98), 257), ((256, 257), 258)]
>>> tok.encode("aaabdaaabac")
[258, 100, 258, 97, 99]
"""

from __future__ import annotations

from groundup.tokenizers.base import BPETokenizer


class BasicBPE(BPETokenizer):
    """Byte-level BPE without a split pattern; starts with the 256 byte tokens."""

    def __init__(self, special_tokens: dict[str, int] | None = None, ranks: dict[bytes, int] | None = None):
        super().__init__(
            ranks or {bytes([b]): b for b in range(256)}, pattern=None, special_tokens=special_tokens
        )
