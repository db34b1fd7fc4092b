"""Tokenizers by name or path, and the few operations the CLI shows: ids with their pieces, stats.

Names: "cl100k" (GPT-4, bundled rank file), "smollm2" (the bundled GGUF), "minilm" (the bundled
all-MiniLM-L6-v2 vocab.txt). A path may be a file written by `BPETokenizer.save`, a tiktoken rank
file (`*.tiktoken`, split with the GPT-4 pattern), a `.gguf` model, or a WordPiece `vocab.txt`
(or a folder holding one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from groundup.errors import GroundupError

NAMES = ("cl100k", "smollm2", "minilm")


def load_named(name: str):
    """A tokenizer from one of `NAMES` or a path (see the module docstring)."""
    from groundup.tokenizers import BPETokenizer, RegexBPE, WordPiece, from_gguf, load_tiktoken

    if name == "cl100k":
        return load_tiktoken()
    if name == "smollm2":
        from groundup.data.assets import smollm2_gguf_path

        return from_gguf(smollm2_gguf_path())
    if name == "minilm":
        return WordPiece.from_pretrained()
    path = Path(name)
    if path.is_dir() and (path / "vocab.txt").is_file():
        return WordPiece.from_pretrained(path)
    if not path.is_file():
        raise GroundupError(f"{name!r} is neither a tokenizer name ({', '.join(NAMES)}) nor an existing file")
    if path.suffix == ".gguf":
        return from_gguf(path)
    if path.name.endswith("vocab.txt"):
        return WordPiece.from_vocab_file(path)
    if path.suffix == ".tiktoken":
        return RegexBPE.from_tiktoken(path, "gpt4")
    with open(path, "rb") as f:
        if f.read(12) == b"groundup-bpe":
            return BPETokenizer.load(path)
    raise GroundupError(
        f"cannot tell what tokenizer {path} holds: expected a groundup-bpe file, *.tiktoken, *.gguf or vocab.txt"
    )


def encode_ids(tokenizer, text: str) -> list[int]:
    """Token ids of `text` with any tokenizer here: special tokens allowed, no BOS/[CLS] added."""
    from groundup.tokenizers import BPETokenizer, WordPiece

    if isinstance(tokenizer, WordPiece):
        return tokenizer.encode(text, add_special_tokens=False).ids
    if isinstance(tokenizer, BPETokenizer):
        return tokenizer.encode(text, allowed_special="all")
    return tokenizer.encode(text, add_bos=False)


def ids_and_pieces(tokenizer, text: str) -> tuple[list[int], list[str]]:
    """`encode_ids` and the text of each token (WordPiece: its vocabulary entry, "##" included)."""
    from groundup.tokenizers import WordPiece

    ids = encode_ids(tokenizer, text)
    if isinstance(tokenizer, WordPiece):
        return ids, [tokenizer.id_to_token(i) for i in ids]
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


def text_stats(tokenizer, text: str) -> TextStats:
    return TextStats(len(text), len(text.encode("utf-8")), len(encode_ids(tokenizer, text)))
