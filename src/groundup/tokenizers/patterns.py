"""Pre-split patterns: the regexes that cut text into chunks before BPE runs inside each chunk.

Splitting first keeps merges from crossing word, number and punctuation boundaries (no token for
"dog." or "dog!"), and lets an encoder cache each distinct chunk. The strings are the ones tiktoken
uses (GPT-2's r50k_base and GPT-4's cl100k_base), so that splitting with the `regex` package gives
exactly tiktoken's chunks. The possessive quantifiers (`++`, `?+`) never change which text matches;
they only stop the engine from backtracking.
"""

from __future__ import annotations

import regex

GPT2_SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""

GPT4_SPLIT_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

# The original GPT-2 pattern, used by HF's ByteLevel pre-tokenizer and llama.cpp's "gpt2"/"smollm".
GPT2_ORIGINAL_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# Llama 3's pattern (llama.cpp pre-tokenizer "llama-bpe"/"llama3").
LLAMA3_SPLIT_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

NAMED_PATTERNS = {"gpt2": GPT2_SPLIT_PATTERN, "gpt4": GPT4_SPLIT_PATTERN}


def resolve_pattern(pattern: str) -> str:
    """'gpt2' or 'gpt4' by name, or a custom regex; ValueError when the regex does not compile."""
    text = NAMED_PATTERNS.get(pattern, pattern)
    try:
        regex.compile(text)
    except regex.error as exc:
        raise ValueError(
            f"pattern {pattern!r} is neither 'gpt2', 'gpt4' nor a valid regex ({exc}); pass a name or fix the regex"
        ) from None
    return text
