"""A small instruction set built from plain text, for the QLoRA fine-tune.

Each example asks the chat model to continue a Wikipedia passage: the prompt holds one or two
sentences of a WikiText paragraph, the response is the sentence that follows. Examples use SmolLM2's
ChatML template, and a mask marks the response tokens (the only ones the loss is computed on):

    <|im_start|>user\\nContinue this Wikipedia text: {prefix}<|im_end|>\\n<|im_start|>assistant\\n{next}<|im_end|>
"""

from __future__ import annotations

import re

import torch

PROMPT = "<|im_start|>user\nContinue this Wikipedia text: {prefix}<|im_end|>\n<|im_start|>assistant\n"
END = "<|im_end|>"


def wikitext_pairs(text: str, limit: int, min_chars: int = 40, max_chars: int = 200) -> list[tuple[str, str]]:
    """(prefix, next sentence) pairs from the paragraphs of a WikiText file (headings skipped)."""
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("="):
            continue
        sentences = [s.strip() for s in re.split(r"(?<=[.!?]) ", line) if s.strip()]
        for i in range(1, len(sentences)):
            prefix, nxt = sentences[i - 1], sentences[i]
            if min_chars <= len(prefix) <= max_chars and min_chars <= len(nxt) <= max_chars:
                pairs.append((prefix, nxt))
                break  # one example per paragraph keeps them diverse
        if len(pairs) >= limit:
            break
    if len(pairs) < limit:
        raise ValueError(f"the text yields only {len(pairs)} instruction examples, {limit} were asked for")
    return pairs


def encode_examples(
    tokenizer, pairs: list[tuple[str, str]], max_len: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """ids (n, max_len) right-padded with the end token, and mask (n, max_len) true on response tokens."""
    end_id = tokenizer.encode(END, add_bos=False)[0]
    ids = torch.full((len(pairs), max_len), end_id, dtype=torch.int64)
    mask = torch.zeros(len(pairs), max_len, dtype=torch.bool)
    for row, (prefix, nxt) in enumerate(pairs):
        prompt = tokenizer.encode(PROMPT.format(prefix=prefix), add_bos=False)
        response = tokenizer.encode(nxt + END, add_bos=False)
        if len(prompt) + 8 > max_len:
            raise ValueError(
                f"max_len {max_len} leaves no room for a response after a {len(prompt)}-token prompt"
            )
        seq = (prompt + response)[:max_len]
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, len(prompt) : len(seq)] = True
    return ids, mask
