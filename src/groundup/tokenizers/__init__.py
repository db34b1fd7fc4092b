"""Tokenizers from scratch: byte-level BPE (GPT-2/GPT-4), the GGUF vocabulary of a llama.cpp model,
and BERT's WordPiece. Pure Python plus the `regex` package; each one is tested for identical ids
against its production reference (tiktoken, transformers, HF tokenizers)."""

from groundup.tokenizers.base import BPETokenizer
from groundup.tokenizers.basic import BasicBPE
from groundup.tokenizers.files import load_tiktoken
from groundup.tokenizers.gguf import GGUFTokenizer, from_gguf
from groundup.tokenizers.patterns import GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN
from groundup.tokenizers.regex_bpe import RegexBPE
from groundup.tokenizers.wordpiece import WordPiece

__all__ = [
    "BPETokenizer",
    "BasicBPE",
    "GGUFTokenizer",
    "GPT2_SPLIT_PATTERN",
    "GPT4_SPLIT_PATTERN",
    "RegexBPE",
    "WordPiece",
    "from_gguf",
    "load_tiktoken",
]
