"""Token ids -> text for streaming: incremental decoding that never emits half a UTF-8 character,
and stop strings that are cut out of the output (held back while a stop could still be forming)."""

from __future__ import annotations


class TextStream:
    """Feed token ids as they arrive; `push` returns the text that is safe to send now."""

    def __init__(self, tokenizer, stops: list[str], skip_ids: tuple[int, ...] = ()):
        self.tokenizer = tokenizer
        self.stops = stops
        self.skip_ids = set(skip_ids)
        self.ids: list[int] = []
        self.text = ""  # everything decoded so far (after a stop: cut before it)
        self.sent = 0  # characters of `text` already returned
        self.stopped = False

    def push(self, token_ids: list[int], final: bool) -> str:
        self.ids += [t for t in token_ids if t not in self.skip_ids]
        text = self.tokenizer.decode(self.ids)
        if text.endswith("\ufffd") and not final:  # a multi-byte character is still incomplete
            text = text[: len(text) - 1]
        hits = [i for i in (text.find(s) for s in self.stops) if i >= 0]
        if hits:
            text = text[: min(hits)]
            self.stopped = final = True
        self.text = text
        hold = 0 if final else max((len(s) - 1 for s in self.stops), default=0)
        safe = max(self.sent, len(text) - hold)
        out = text[self.sent : safe]
        self.sent = safe
        return out
