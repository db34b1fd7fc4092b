"""How each endpoint renders its choices, the only thing in which the two differ (`serve/streaming.py`
runs the shared path): a completion choice is text (with its echoed prompt and per-token logprobs and
offsets), a chat choice an assistant message (streamed as a role chunk, content deltas and a finish
chunk, with logprobs per token as OpenAI's chat API shapes them).
"""

from __future__ import annotations

from groundup.serve import protocol as P
from groundup.serve.streaming import Choice, Event
from groundup.tokenizers.protocol import Tokenizer


def token_strings(tokenizer: Tokenizer, ids: list[int]) -> list[str]:
    return [tokenizer.decode([t]) for t in ids]


class CompletionRenderer:
    id_prefix = "cmpl"
    chunk_type = P.CompletionResponse
    response_type = P.CompletionResponse

    def __init__(self, tokenizer: Tokenizer, logprobs: int | None, echoes: list[str] | None = None):
        """`echoes`: per choice, the prompt text to put before its completion (`echo`), if any."""
        self.tokenizer, self.logprobs, self.echoes = tokenizer, logprobs, echoes

    def opening(self) -> list[P.CompletionChoice]:
        return []

    def deltas(self, event: Event) -> list[P.CompletionChoice]:
        if not event.text and not event.finish_reason:
            return []
        return [
            P.CompletionChoice(index=event.choice.index, text=event.text, finish_reason=event.finish_reason)
        ]

    def choice(self, c: Choice) -> P.CompletionChoice:
        return P.CompletionChoice(
            index=c.index,
            text=self._echo(c) + c.text.text,
            logprobs=self._logprobs(c),
            finish_reason=c.finish_reason,
        )

    def _echo(self, c: Choice) -> str:
        return self.echoes[c.index] if self.echoes else ""

    def _logprobs(self, c: Choice) -> P.CompletionLogprobs | None:
        if self.logprobs is None:
            return None
        tokens = token_strings(self.tokenizer, c.token_ids)
        offsets, pos = [], len(self._echo(c))
        for t in tokens:
            offsets.append(pos)
            pos += len(t)
        return P.CompletionLogprobs(tokens=tokens, token_logprobs=c.logprobs, text_offset=offsets)


class ChatRenderer:
    id_prefix = "chatcmpl"
    chunk_type = P.ChatCompletionChunk
    response_type = P.ChatCompletionResponse

    def __init__(self, tokenizer: Tokenizer, logprobs: bool, n: int):
        self.tokenizer, self.logprobs, self.n = tokenizer, logprobs, n

    def opening(self) -> list[P.ChatChunkChoice]:
        """The assistant role of each of the n choices, before any content."""
        return [
            P.ChatChunkChoice(index=i, delta=P.DeltaMessage(role="assistant", content=""))
            for i in range(self.n)
        ]

    def deltas(self, event: Event) -> list[P.ChatChunkChoice]:
        index, out = event.choice.index, []
        if event.text:
            lps = self._logprobs(event.token_ids, event.logprobs)
            out.append(P.ChatChunkChoice(index=index, delta=P.DeltaMessage(content=event.text), logprobs=lps))
        if event.finish_reason:
            out.append(
                P.ChatChunkChoice(index=index, delta=P.DeltaMessage(), finish_reason=event.finish_reason)
            )
        return out

    def choice(self, c: Choice) -> P.ChatChoice:
        return P.ChatChoice(
            index=c.index,
            message=P.AssistantMessage(content=c.text.text),
            logprobs=self._logprobs(c.token_ids, c.logprobs),
            finish_reason=c.finish_reason,
        )

    def _logprobs(self, ids: list[int], logprobs: list[float]) -> P.ChoiceLogprobs | None:
        if not self.logprobs:
            return None
        return P.ChoiceLogprobs(
            content=[
                P.TokenLogprob(token=t, logprob=lp, bytes=list(t.encode()))
                for t, lp in zip(token_strings(self.tokenizer, ids), logprobs)
            ]
        )
