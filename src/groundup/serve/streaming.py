"""One path from engine tokens to an OpenAI response, shared by /v1/completions and /v1/chat/completions.

    choice_events   runs the sequences of a request (n per prompt) and turns their tokens into
                    text events (incremental detokenization, stop strings), in arrival order
    respond         either streams the events as server-sent events (`data: {json}` chunks, an
                    optional usage chunk, `data: [DONE]`) or collects them into one response body

The endpoints differ only in how a choice looks, which a `Renderer` says (see `serve/responses.py`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from groundup.generate.decode import TextTracker  # incremental text + stop strings
from groundup.serve import protocol as P
from groundup.serve.async_engine import AsyncEngine


class EngineFailure(Exception):
    """The engine failed while running a request (the server answers 500)."""


@dataclass
class Choice:
    """One of the `n` generations of a request, as text so far."""

    index: int
    text: TextTracker
    finish_reason: str | None = None
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    top_logprobs: list[dict[int, float]] = field(default_factory=list)

    @property
    def mean_logprob(self) -> float:
        """Log probability per token, by which `best_of` ranks choices."""
        return sum(self.logprobs) / max(1, len(self.logprobs))


@dataclass
class Event:
    """What one engine step added to one choice: new text, token ids and their logprobs, and the
    finish reason once it is done (a snapshot: the choice itself keeps growing)."""

    choice: Choice
    text: str
    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str | None
    top_logprobs: list[dict[int, float]] = field(default_factory=list)


class Renderer(Protocol):
    """How one endpoint renders choices (`serve/responses.py`)."""

    id_prefix: str  # "cmpl" or "chatcmpl"
    chunk_type: type[BaseModel]  # the streamed envelope (id, created, model, choices, usage)
    response_type: type[BaseModel]  # the whole-response envelope (model, choices, usage)

    def opening(self) -> list[BaseModel]: ...  # chunk choices streamed before any token

    def deltas(self, event: Event) -> list[BaseModel]: ...  # chunk choices for one event, one chunk each

    def choice(self, choice: Choice) -> BaseModel: ...  # one choice of the collected response


async def choice_events(engine: AsyncEngine, groups, tokenizer, stops: list[str]) -> AsyncIterator[Event]:
    """Run the groups of sequences (one `engine.make_sequences` per prompt) concurrently; yield their
    events as they come. Choice `i` is the i-th sequence in group order (prompt p's j-th completion is
    choice p·n + j, as OpenAI numbers a batch). Leaving early (a disconnect) aborts every sequence
    still running."""
    eos = set(engine.eos_token_ids)
    merged: asyncio.Queue = asyncio.Queue()

    async def pump(choice: Choice, stream: AsyncIterator):
        try:
            async for item in stream:
                if item.error:
                    raise EngineFailure(item.error)
                delta = ""
                for t in item.token_ids:
                    if t not in eos and not choice.text.stopped:
                        delta += choice.text.push(t)
                if item.finished or choice.text.stopped:
                    delta += choice.text.finish()
                if choice.text.stopped:
                    choice.finish_reason = "stop"
                elif item.finished:  # an abort is the server's own doing (a stop string): "stop"
                    choice.finish_reason = "stop" if item.finish_reason == "abort" else item.finish_reason
                choice.token_ids += item.token_ids
                choice.logprobs += item.logprobs
                choice.top_logprobs += item.top_logprobs
                event = Event(
                    choice, delta, item.token_ids, item.logprobs, choice.finish_reason, item.top_logprobs
                )
                await merged.put(event)
                if choice.finish_reason:
                    break
        except Exception as exc:
            await merged.put(exc)
        finally:
            await stream.aclose()  # aborts the sequence if it is still running
            await merged.put(None)

    streams = [stream for group in groups for stream in engine.submit(group)]
    choices = [Choice(i, TextTracker(tokenizer, stops)) for i in range(len(streams))]
    tasks = [asyncio.create_task(pump(c, s)) for c, s in zip(choices, streams)]
    try:
        done = 0
        while done < len(tasks):
            item = await merged.get()
            if item is None:
                done += 1
            elif isinstance(item, Exception):
                raise item
            else:
                yield item
    finally:
        for t in tasks:
            t.cancel()


def count_usage(prompt_tokens: int, choices: list[Choice]) -> P.Usage:
    completion = sum(len(c.token_ids) for c in choices)
    return P.Usage(
        prompt_tokens=prompt_tokens, completion_tokens=completion, total_tokens=prompt_tokens + completion
    )


def best_of(choices: list[Choice], n: int, best: int) -> list[Choice]:
    """Of each prompt's `best` choices (consecutive), the `n` with the highest log probability per
    token, renumbered as if only n had been asked for (prompt p's j-th kept choice is p·n + j)."""
    kept = []
    for p in range(0, len(choices), best):
        ranked = sorted(choices[p : p + best], key=lambda c: c.mean_logprob, reverse=True)[:n]
        for j, c in enumerate(sorted(ranked, key=lambda c: c.index)):
            c.index = p // best * n + j
            kept.append(c)
    return kept


async def respond(
    events: AsyncIterator[Event],
    renderer: Renderer,
    req: P.SamplingFields,
    model: str,
    prompt_tokens: int,
    keep: tuple[int, int] | None = None,
):
    """The HTTP answer to `req`: a StreamingResponse of server-sent events if it asked for a stream,
    else the collected response body. `keep=(n, best_of)`: return the n best of each prompt's
    best_of choices (usage still counts every token generated)."""
    if req.stream:
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        chunks = _sse_chunks(events, renderer, model, prompt_tokens if include_usage else None)
        return StreamingResponse(chunks, media_type="text/event-stream")
    choices = {}
    async for event in events:
        choices[event.choice.index] = event.choice
    ordered = [choices[i] for i in sorted(choices)]
    usage = count_usage(prompt_tokens, ordered)
    if keep:
        ordered = best_of(ordered, *keep)
    return renderer.response_type(model=model, choices=[renderer.choice(c) for c in ordered], usage=usage)


async def _sse_chunks(events, renderer: Renderer, model: str, usage_prompt_tokens: int | None):
    """`data: {chunk}` lines: the renderer's opening, its deltas per event, the usage chunk when
    `usage_prompt_tokens` is given, then `data: [DONE]`."""
    rid, created = P.new_id(renderer.id_prefix), int(time.time())

    def chunk(choices, usage=None) -> str:
        body = renderer.chunk_type(id=rid, created=created, model=model, choices=choices, usage=usage)
        return f"data: {json.dumps(body.model_dump(exclude_none=False))}\n\n"

    for piece in renderer.opening():
        yield chunk([piece])
    choices = {}
    async for event in events:
        choices[event.choice.index] = event.choice
        for piece in renderer.deltas(event):
            yield chunk([piece])
    if usage_prompt_tokens is not None:
        yield chunk([], count_usage(usage_prompt_tokens, list(choices.values())))
    yield "data: [DONE]\n\n"
