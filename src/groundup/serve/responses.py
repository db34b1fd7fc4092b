"""How each endpoint renders its choices, the only thing in which the two differ (`serve/streaming.py`
runs the shared path): a completion choice is text (with its echoed prompt and per-token logprobs and
offsets), a chat choice an assistant message (streamed as a role chunk, content deltas and a finish
chunk, with logprobs per token as OpenAI's chat API shapes them).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from groundup.serve import protocol as P
from groundup.serve.streaming import Choice, Event
from groundup.tokenizers.protocol import Tokenizer


def token_strings(tokenizer: Tokenizer, ids: list[int]) -> list[str]:
    return [tokenizer.decode([t]) for t in ids]


@dataclass
class PromptScore:
    """A prompt's tokens with each one's logprob given those before it (None for the first) and its
    top alternatives (`echo` with `logprobs`)."""

    token_ids: list[int]
    logprobs: list[float | None]
    top_logprobs: list[dict[int, float] | None]


class CompletionRenderer:
    id_prefix = "cmpl"
    chunk_type = P.CompletionResponse
    response_type = P.CompletionResponse

    def __init__(
        self,
        tokenizer: Tokenizer,
        logprobs: int | None,
        echoes: list[str] | None = None,
        prompt_scores: list[PromptScore] | None = None,
    ):
        """`echoes`: per choice, the prompt text to put before its completion (`echo`), if any;
        `prompt_scores`: per choice, its prompt's logprobs, reported before the completion's."""
        self.tokenizer, self.logprobs, self.echoes = tokenizer, logprobs, echoes
        self.prompt_scores = prompt_scores

    def opening(self) -> list[P.CompletionChoice]:
        """The echoed prompts, before any token (with their logprobs, if asked for)."""
        if not self.echoes:
            return []
        return [
            P.CompletionChoice(index=i, text=text, logprobs=self._prompt_logprobs(i))
            for i, text in enumerate(self.echoes)
        ]

    def deltas(self, event: Event) -> list[P.CompletionChoice]:
        if not event.text and not event.finish_reason:
            return []
        lps = None
        if self.logprobs is not None:
            start = len(self._echo(event.choice.index)) + len(event.choice.text.text) - len(event.text)
            lps = self._token_logprobs(event.token_ids, event.logprobs, event.top_logprobs, start)
        index = event.choice.index
        return [
            P.CompletionChoice(index=index, text=event.text, logprobs=lps, finish_reason=event.finish_reason)
        ]

    def choice(self, c: Choice) -> P.CompletionChoice:
        return P.CompletionChoice(
            index=c.index,
            text=self._echo(c.index) + c.text.text,
            logprobs=self._logprobs(c),
            finish_reason=c.finish_reason,
        )

    def _echo(self, index: int) -> str:
        return self.echoes[index] if self.echoes else ""

    def _logprobs(self, c: Choice) -> P.CompletionLogprobs | None:
        if self.logprobs is None:
            return None
        prompt = self._prompt_logprobs(c.index)
        start = len(self._echo(c.index))
        out = self._token_logprobs(c.token_ids, c.logprobs, c.top_logprobs, start)
        if prompt is None:
            return out
        return P.CompletionLogprobs(
            tokens=prompt.tokens + out.tokens,
            token_logprobs=prompt.token_logprobs + out.token_logprobs,
            top_logprobs=None if out.top_logprobs is None else prompt.top_logprobs + out.top_logprobs,
            text_offset=prompt.text_offset + out.text_offset,
        )

    def _prompt_logprobs(self, index: int) -> P.CompletionLogprobs | None:
        if not self.prompt_scores:
            return None
        score = self.prompt_scores[index]
        return self._token_logprobs(score.token_ids, score.logprobs, score.top_logprobs, 0)

    def _token_logprobs(self, ids, logprobs, tops, start: int) -> P.CompletionLogprobs:
        """OpenAI's completions logprobs of `ids`: token strings, logprobs, the top alternatives (with
        the chosen token among them, as OpenAI reports up to `logprobs + 1`), character offsets from
        `start`."""
        tokens = token_strings(self.tokenizer, ids)
        offsets = list(itertools.accumulate((len(t) for t in tokens[:-1]), initial=start)) if tokens else []
        top = None
        if self.logprobs:
            top = [
                None if t is None else {**self._named(t), tokens[i]: lp}
                for i, (t, lp) in enumerate(zip(tops or [{}] * len(ids), logprobs))
            ]
        return P.CompletionLogprobs(
            tokens=tokens, token_logprobs=logprobs, top_logprobs=top, text_offset=offsets
        )

    def _named(self, top: dict[int, float]) -> dict[str, float]:
        return {self.tokenizer.decode([t]): lp for t, lp in top.items()}


class ChatRenderer:
    id_prefix = "chatcmpl"
    chunk_type = P.ChatCompletionChunk
    response_type = P.ChatCompletionResponse

    def __init__(self, tokenizer: Tokenizer, logprobs: bool, n: int, top_logprobs: int = 0):
        self.tokenizer, self.logprobs, self.n, self.top = tokenizer, logprobs, n, top_logprobs

    def opening(self) -> list[P.ChatChunkChoice]:
        """The assistant role of each of the n choices, before any content."""
        return [
            P.ChatChunkChoice(index=i, delta=P.DeltaMessage(role="assistant", content=""))
            for i in range(self.n)
        ]

    def deltas(self, event: Event) -> list[P.ChatChunkChoice]:
        index, out = event.choice.index, []
        if event.text:
            lps = self._logprobs(event.token_ids, event.logprobs, event.top_logprobs)
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
            logprobs=self._logprobs(c.token_ids, c.logprobs, c.top_logprobs),
            finish_reason=c.finish_reason,
        )

    def _logprobs(self, ids: list[int], logprobs: list[float], tops) -> P.ChoiceLogprobs | None:
        if not self.logprobs:
            return None
        tops = tops if self.top else [{}] * len(ids)
        return P.ChoiceLogprobs(
            content=[
                P.TokenLogprob(
                    token=t, logprob=lp, bytes=list(t.encode()), top_logprobs=self._alternatives(top)
                )
                for t, lp, top in zip(token_strings(self.tokenizer, ids), logprobs, tops)
            ]
        )

    def _alternatives(self, top: dict[int, float]) -> list[dict]:
        """OpenAI's chat `top_logprobs` entries, most likely first."""
        out = []
        for token_id, lp in sorted(top.items(), key=lambda kv: -kv[1])[: self.top]:
            text = self.tokenizer.decode([token_id])
            out.append({"token": text, "logprob": lp, "bytes": list(text.encode())})
        return out
