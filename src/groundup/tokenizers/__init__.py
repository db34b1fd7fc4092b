"""Tokenizers from scratch: byte-level BPE (GPT-2/GPT-4), the GGUF vocabulary of a llama.cpp model,
BERT's WordPiece and a character vocabulary, all behind one `Tokenizer` protocol. Pure Python plus
the `regex` package; each one is tested for identical ids against its production reference
(tiktoken, transformers, HF tokenizers).

Layers inside the package (each imports only those below it):
    loaders, stats, cli                                     choose and show a tokenizer
    basic, regex_bpe -> base; gguf; wordpiece; char         the tokenizers
    io, merge, cache, specials, protocol, patterns, bytelevel, train   plain data and shared steps
"""

from groundup.tokenizers.base import BPETokenizer
from groundup.tokenizers.basic import BasicBPE
from groundup.tokenizers.char import CharTokenizer
from groundup.tokenizers.gguf import GGUFTokenizer, from_gguf
from groundup.tokenizers.loaders import load_bpe, load_named, load_tiktoken
from groundup.tokenizers.patterns import GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN
from groundup.tokenizers.protocol import Tokenizer
from groundup.tokenizers.regex_bpe import RegexBPE
from groundup.tokenizers.wordpiece import WordPiece

__all__ = [
    "BPETokenizer",
    "BasicBPE",
    "CharTokenizer",
    "GGUFTokenizer",
    "GPT2_SPLIT_PATTERN",
    "GPT4_SPLIT_PATTERN",
    "RegexBPE",
    "Tokenizer",
    "WordPiece",
    "from_gguf",
    "load_bpe",
    "load_named",
    "load_tiktoken",
]
