"""GPT-2's byte-to-character table: every byte spelled as one printable Unicode character.

Byte-level vocabularies (GPT-2, SmolLM2, HF `tokenizer.json`, GGUF `tokenizer.ggml.tokens`) store a
token's bytes as a string in which each byte is one visible character, so that a vocabulary file
never holds raw control bytes or spaces. Printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand
for themselves; the other 68 bytes are moved, in byte order, to U+0100, U+0101, ... — which is why a
leading space shows up as 'Ġ' (U+0120) and a newline as 'Ċ' (U+010A).
"""

from __future__ import annotations


def _byte_to_char() -> list[str]:
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table = [""] * 256
    moved = 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + moved)
            moved += 1
    return table


BYTE_TO_CHAR: list[str] = _byte_to_char()
CHAR_TO_BYTE: dict[str, int] = {char: byte for byte, char in enumerate(BYTE_TO_CHAR)}


def spell(data: bytes) -> str:
    """Bytes as their byte-level spelling: b' the' -> 'Ġthe'."""
    return "".join(BYTE_TO_CHAR[b] for b in data)


def unspell(token: str) -> bytes:
    """Inverse of `spell`; ValueError naming the character when `token` is not byte-level text."""
    try:
        return bytes(CHAR_TO_BYTE[c] for c in token)
    except KeyError as exc:
        raise ValueError(
            f"{token!r} is not a byte-level spelling: character {exc.args[0]!r} stands for no byte"
        ) from None
