"""Tokenizers from scratch: byte-level BPE (GPT-2/GPT-4), the GGUF vocabulary of a llama.cpp model,
BERT's WordPiece and a character vocabulary, all behind one `Tokenizer` protocol. Pure Python plus
the `regex` package; each one is tested for identical ids against its production reference
(tiktoken, transformers, HF tokenizers).

Layers inside the package (each imports only those below it):
    loaders, stats, cli                                     choose and show a tokenizer
    basic, regex_bpe -> base; gguf; wordpiece; char         the tokenizers
    io, merge, cache, specials, protocol, patterns, bytelevel, train   plain data and shared steps

Names load from their submodules on first use (`groundup.lazy`).
"""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "base": ["BPETokenizer"],
        "basic": ["BasicBPE"],
        "char": ["CharTokenizer"],
        "gguf": ["GGUFTokenizer", "from_gguf"],
        "loaders": ["load_bpe", "load_named", "load_tiktoken"],
        "patterns": ["GPT2_SPLIT_PATTERN", "GPT4_SPLIT_PATTERN"],
        "protocol": ["Tokenizer"],
        "regex_bpe": ["RegexBPE"],
        "wordpiece": ["WordPiece"],
    },
)
