"""Special tokens written in the text ("<|endoftext|>", "<|im_start|>", "[MASK]"): which ones a
call allows, and cutting text around them before ordinary tokenization.

Every tokenizer here takes `allowed_special`: "all", or a collection of its special tokens. An
allowed special token in the text becomes its single id; any other text, including a special
token that is not allowed, is tokenized as ordinary text. Longer tokens are matched first, so
"<|endoftext|>" wins over a special token that is its prefix.

>>> list(split_specials("a<|x|>b", frozenset({"<|x|>"})))
[('a', False), ('<|x|>', True), ('b', False)]
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterator, Mapping
from typing import Literal

import regex

AllowedSpecial = Literal["all"] | Collection[str]


def allowed_set(allowed_special: AllowedSpecial, special_tokens: Mapping[str, int]) -> frozenset[str]:
    """The special tokens that `allowed_special` names; ValueError for a name that is not one of them."""
    allowed = frozenset(special_tokens) if allowed_special == "all" else frozenset(allowed_special)
    unknown = allowed - special_tokens.keys()
    if unknown:
        raise ValueError(
            f"allowed_special names {sorted(unknown)!r}, which are not special tokens of this tokenizer; "
            f"its special tokens are {sorted(special_tokens)!r}"
        )
    return allowed


@functools.lru_cache(maxsize=64)
def specials_regex(tokens: frozenset[str]) -> regex.Pattern:
    """A regex matching any of `tokens`, longest first, as one capture group."""
    longest_first = sorted(tokens, key=lambda t: (-len(t), t))
    return regex.compile("(" + "|".join(map(regex.escape, longest_first)) + ")")


def split_specials(text: str, tokens: frozenset[str]) -> Iterator[tuple[str, bool]]:
    """`(part, is_special)` in order: `text` cut around `tokens`, empty ordinary parts left out."""
    if not tokens:
        if text:
            yield text, False
        return
    # a split with a capture group alternates: ordinary, special, ordinary, ..., ordinary
    for i, part in enumerate(specials_regex(tokens).split(text)):
        if i % 2 or part:
            yield part, bool(i % 2)
