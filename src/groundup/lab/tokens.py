"""The tokenizer explorer's data: where one text splits into tokens under each tokenizer.

A byte-level BPE token may hold part of a UTF-8 character (one Chinese character is often two or three
tokens), so each piece carries its bytes in hex beside a readable text that shows such a fragment as
U+FFFD. WordPiece works on normalized words, so its pieces are its vocabulary entries (`##ing`), not
slices of the input. Every tokenizer encodes exactly the text (no BOS, no [CLS]/[SEP]) and reads a
special token written in it (`<|endoftext|>`) as that token.
"""

from __future__ import annotations

from collections.abc import Mapping

from groundup.tokenizers.protocol import Tokenizer

MAX_CHARS = 20_000  # the explorer is for reading tokens, not for bulk encoding


def token_pieces(tokenizer: Tokenizer, text: str) -> list[dict]:
    """[{"id", "text", "hex", "piece"}] for each token of `text`, in order."""
    pieces = []
    for token_id in tokenizer.encode(text, add_special_tokens=False, allowed_special="all"):
        raw = tokenizer.decode_bytes([token_id])
        pieces.append(
            {
                "id": int(token_id),
                "text": raw.decode("utf-8", errors="replace"),
                "hex": raw.hex(" "),
                "piece": tokenizer.id_to_token(token_id),
            }
        )
    return pieces


def compare_tokenizers(tokenizers: Mapping[str, Tokenizer], text: str) -> dict:
    """{"text", "chars", "utf8_bytes", "tokenizers": [{"name", "vocab_size", "count", "tokens"}]}."""
    if len(text) > MAX_CHARS:
        raise ValueError(f"text: {len(text)} characters; the explorer takes at most {MAX_CHARS}")
    rows = []
    for name, tokenizer in tokenizers.items():
        tokens = token_pieces(tokenizer, text)
        rows.append(
            {"name": name, "vocab_size": tokenizer.vocab_size, "count": len(tokens), "tokens": tokens}
        )
    return {"text": text, "chars": len(text), "utf8_bytes": len(text.encode("utf-8")), "tokenizers": rows}
