"""`WordPiece`: BERT's uncased tokenizer (all-MiniLM-L6-v2's `vocab.txt`), equal to HF tokenizers.

The pipeline, in the order HF tokenizers runs it for a `BertNormalizer` + `BertPreTokenizer` +
`WordPiece` model + `[CLS] A [SEP] B [SEP]` template:

1. Special tokens written in the text ("[CLS]", "[MASK]", ...) are cut out first and kept whole.
2. Normalize (`normalize`): drop NUL, U+FFFD and control/format characters, turn every whitespace
   character into a space, put spaces around CJK ideographs (Chinese has no spaces, so each
   ideograph becomes a word), decompose (NFD) and drop the non-spacing marks (accents: "é" -> "e"),
   then lowercase.
3. Pre-tokenize (`pre_tokenize`): split on whitespace, and make every punctuation character a word
   of its own ("don't" -> "don", "'", "t").
4. WordPiece each word (`wordpiece`): greedy longest-match-first. Take the longest prefix that is in
   the vocabulary, then the longest continuation spelled "##..." and so on; a word with a piece that
   matches nothing, or longer than `max_input_chars_per_word`, becomes "[UNK]" as a whole.
       "unaffable" -> "una", "##ffa", "##ble"
5. Add "[CLS]" and "[SEP]" (type id 0 for the first text, 1 for the second), truncate
   longest-first to `max_length`, pad to `max_length`, and build the attention mask.

Character classes use Unicode properties as Rust does: whitespace is the White_Space property
(Python's `str.isspace` also accepts U+001C..U+001F), punctuation is ASCII punctuation or a `P*`
category. Words repeat, so each distinct word's pieces are cached (`cache.py`).

`encode` returns an `Encoding`: the list of ids (what `protocol.Tokenizer` asks for), carrying the
tokens, type ids and attention mask as attributes, like HF's `Encoding`.

Known difference: categories come from Python's Unicode data (`unicodedata` 14.0 in Python 3.11,
and the `regex` module for punctuation), while HF tokenizers' Rust tables are older for categories
(about Unicode 10) and newer for lowercasing. About 500 code points assigned since Unicode 10 (new
combining marks, format characters and punctuation, e.g. U+0898, U+13430, U+2E55) are therefore
treated differently; everything older is identical.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from pathlib import Path

import regex

from groundup.errors import GroundupError
from groundup.tokenizers.cache import ChunkCache
from groundup.tokenizers.io import read_vocab_txt
from groundup.tokenizers.specials import AllowedSpecial, allowed_set, split_specials

# Unicode White_Space (what Rust's char::is_whitespace tests).
WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
# CJK ideographs get spaces around them. The extension range starts at U+2B920, not U+2B820,
# because that is where HF tokenizers' table starts, and we follow the reference.
CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)  # fmt: skip


def _is_control(c: str) -> bool:
    # Unassigned code points (Cn) are kept, as HF tokenizers does.
    return c not in "\t\n\r" and unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs")


def _is_cjk(c: str) -> bool:
    cp = ord(c)
    return any(lo <= cp <= hi for lo, hi in CJK_RANGES)


_ASCII_CLEAN = {  # control characters go first (so \x0b and \x0c vanish), then whitespace -> " "
    cp: None if _is_control(chr(cp)) else " "
    for cp in range(128)
    if chr(cp) in WHITESPACE or _is_control(chr(cp))
}
_PUNCT_OR_SPACE = regex.compile(r"[\p{P}!-/:-@\[-`{-~]|[" + regex.escape("".join(sorted(WHITESPACE))) + "]+")


class Encoding(list):
    """One encoded input: the list of its ids, with their `tokens`, `type_ids` (0 first text, 1 second)
    and `attention_mask` (0 on padding). `.ids` is a plain list copy of the ids."""

    def __init__(
        self,
        ids: Iterable[int],
        tokens: Iterable[str],
        type_ids: Iterable[int] = (),
        attention_mask: Iterable[int] = (),
    ) -> None:
        super().__init__(ids)
        self.tokens, self.type_ids, self.attention_mask = list(tokens), list(type_ids), list(attention_mask)

    @property
    def ids(self) -> list[int]:
        return list(self)

    def __repr__(self) -> str:
        return f"Encoding(ids={list(self)!r}, tokens={self.tokens!r})"


class WordPiece:
    """BERT's WordPiece tokenizer over a `vocab` (token -> id), uncased by default.

    >>> tok = WordPiece.from_pretrained(minilm_dir())            # doctest: +SKIP
    >>> tok.encode("Héllo, world!").tokens                       # doctest: +SKIP
    ['[CLS]', 'hello', ',', 'world', '!', '[SEP]']
    """

    bos_token_id: int | None = None  # BERT marks a text with [CLS]/[SEP], not BOS/EOS (as in HF)
    eos_token_id: int | None = None
    chat_template: str | None = None

    def __init__(
        self,
        vocab: dict[str, int],
        *,
        lowercase: bool = True,
        strip_accents: bool | None = None,
        unk_token: str = "[UNK]",
        special_tokens: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"),
        max_input_chars_per_word: int = 100,
        prefix: str = "##",
    ) -> None:
        missing = [t for t in special_tokens if t not in vocab]
        if missing:
            raise GroundupError(f"special token {missing[0]!r} is not in the vocabulary; add it to vocab.txt")
        self.vocab = vocab
        self.inverse = {i: t for t, i in vocab.items()}
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.unk_token, self.prefix = unk_token, prefix
        self.special_tokens: dict[str, int] = {t: vocab[t] for t in special_tokens}
        self.max_input_chars_per_word = max_input_chars_per_word
        self._longest = max(map(len, vocab), default=0)  # no piece is longer: the search starts there
        self._cache = ChunkCache(self.wordpiece)

    @classmethod
    def from_vocab_file(cls, path: str | Path, **kwargs) -> WordPiece:
        """Read `vocab.txt` (one token per line, id = line number - 1); errors name the line."""
        return cls(read_vocab_txt(path), **kwargs)

    @classmethod
    def from_pretrained(cls, directory: str | Path | None = None, **kwargs) -> WordPiece:
        """The tokenizer in a model folder's `vocab.txt`; default: the bundled all-MiniLM-L6-v2."""
        if directory is None:
            from groundup.data.assets import minilm_dir

            directory = minilm_dir()
        return cls.from_vocab_file(Path(directory) / "vocab.txt", **kwargs)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def token_to_id(self, token: str) -> int | None:
        return self.vocab.get(token)

    def id_to_token(self, token_id: int) -> str:
        if token_id not in self.inverse:
            raise ValueError(f"unknown token id {token_id!r}: ids are 0..{len(self.vocab) - 1}")
        return self.inverse[token_id]

    # ---- the pipeline ---------------------------------------------------------------------------

    def normalize(self, text: str) -> str:
        """Clean, space out CJK, strip accents and lowercase (step 2 of the module docstring)."""
        if text.isascii():  # fast path: no CJK, no accents; cleaning is one table lookup per character
            text = text.translate(_ASCII_CLEAN)
            return text.lower() if self.lowercase else text
        out = []
        for c in text:
            if c == "\x00" or c == "\ufffd" or _is_control(c):
                continue
            if c in WHITESPACE:
                out.append(" ")
            elif _is_cjk(c):
                out += (" ", c, " ")
            else:
                out.append(c)
        text = "".join(out)
        if self.strip_accents:
            text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        if self.lowercase:
            # character by character, as Rust does: no final-sigma rule ("ΑΣ" -> "ασ", not "ας")
            text = "".join(map(str.lower, text)) if "Σ" in text else text.lower()
        return text

    def pre_tokenize(self, text: str) -> list[str]:
        """Words: split on whitespace, every punctuation character a word of its own."""
        words, start = [], 0
        for m in _PUNCT_OR_SPACE.finditer(text):
            if m.start() > start:
                words.append(text[start : m.start()])
            if m.group()[0] not in WHITESPACE:
                words.append(m.group())
            start = m.end()
        if start < len(text):
            words.append(text[start:])
        return words

    def wordpiece(self, word: str) -> list[str]:
        """Greedy longest-match-first pieces of one word, or [unk_token].

        Each piece is searched from the longest candidate down, but never from longer than the
        longest vocabulary entry: the same pieces as trying every end of the word, in O(len × longest)
        instead of O(len²) lookups.
        """
        if len(word) > self.max_input_chars_per_word:
            return [self.unk_token]
        pieces, start, vocab = [], 0, self.vocab
        while start < len(word):
            end = min(len(word), start + self._longest)
            while end > start:
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                if piece in vocab:
                    break
                end -= 1
            else:
                return [self.unk_token]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str, allowed_special: AllowedSpecial = "all") -> list[str]:
        """Tokens of `text` without [CLS]/[SEP]; allowed special tokens written in the text stay whole."""
        tokens = []
        for part, special in split_specials(text, allowed_set(allowed_special, self.special_tokens)):
            if special:
                tokens.append(part)
            else:
                tokens += self._cache.join(self.pre_tokenize(self.normalize(part)))
        return tokens

    def encode(
        self,
        text: str,
        pair: str | None = None,
        *,
        add_special_tokens: bool = True,
        allowed_special: AllowedSpecial = "all",
        max_length: int | None = None,
        padding: bool = False,
    ) -> Encoding:
        """Encode one text or a pair, truncating longest-first to `max_length`, padding to it if asked.

        `add_special_tokens`: [CLS] first and [SEP] after each text; `allowed_special`: the special
        tokens written in the text that stay whole (all of them by default, as in HF tokenizers).
        """
        if max_length is not None and (
            isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1
        ):
            raise ValueError(f"max_length must be a positive int or None, got {max_length!r}")
        if padding and max_length is None:
            raise ValueError("padding=True needs max_length (the length to pad to)")
        a = self.tokenize(text, allowed_special)
        b = self.tokenize(pair, allowed_special) if pair is not None else None
        if max_length is not None:
            added = (3 if b is not None else 2) if add_special_tokens else 0
            a, b = _truncate_longest_first(a, b, max(max_length - added, 0))
        cls_, sep = ["[CLS]"] if add_special_tokens else [], ["[SEP]"] if add_special_tokens else []
        tokens = cls_ + a + sep
        type_ids = [0] * len(tokens)
        if b is not None:
            tokens += b + sep
            type_ids += [1] * (len(b) + len(sep))
        mask = [1] * len(tokens)
        if padding and len(tokens) < max_length:
            n = max_length - len(tokens)
            tokens, type_ids, mask = tokens + ["[PAD]"] * n, type_ids + [0] * n, mask + [0] * n
        return Encoding([self.vocab[t] for t in tokens], tokens, type_ids, mask)

    def encode_batch(self, texts: list[str] | list[tuple[str, str]], **kwargs) -> list[Encoding]:
        """`encode` each text, or each (text, pair) tuple."""
        return [
            self.encode(*t, **kwargs) if isinstance(t, tuple) else self.encode(t, **kwargs) for t in texts
        ]

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """UTF-8 of the decoded text, special tokens kept (what a streaming decoder needs)."""
        return self.decode(ids, skip_special_tokens=False).encode("utf-8")

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = True) -> str:
        """Text of `ids` as HF's WordPiece decoder builds it, token by token: a "##" piece is glued
        to the previous one, any other token gets a leading space, then each token is tidied
        (" ." -> "." and the like; whole tokens only, so "don ' t" stays spaced)."""
        tokens = [self.id_to_token(i) for i in ids]
        if skip_special_tokens:
            tokens = [t for t in tokens if t not in self.special_tokens]
        out = []
        for i, token in enumerate(tokens):
            if i:
                token = token.replace(self.prefix, "", 1) if token.startswith(self.prefix) else " " + token
            for before, after in _CLEANUP:
                token = token.replace(before, after)
            out.append(token)
        return "".join(out)


_CLEANUP = (
    (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
    (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
)  # fmt: skip


def _truncate_longest_first(
    a: list[str], b: list[str] | None, budget: int
) -> tuple[list[str], list[str] | None]:
    """HF's LongestFirst: the shorter text keeps all it can; if both must shrink, split the budget."""
    if b is None:
        return a[:budget], None
    if len(a) + len(b) <= budget:
        return a, b
    n1, n2 = sorted((len(a), len(b)))
    n2 = n1 if n1 > budget else max(n1, budget - n1)
    if n1 + n2 > budget:
        n1, n2 = budget // 2, budget // 2 + budget % 2
    if len(a) > len(b):
        n1, n2 = n2, n1
    return a[:n1], b[:n2]
