"""The decoding loop: prefill the prompt once, then one token per step through the KV cache.

    stream(model, prompt_ids, params, tokenizer)  -> iterator of TokenEvent (id, new text, logprob)
    generate(model, prompt_ids, params, tokenizer) -> Generation (all ids, text, finish reason)
    generate_tokens(model, idx, n, block_size)     -> idx (B, T + n): any model of the makemore ladder

Each step costs one forward over a single new token: keys and values of everything before it are
read from the pre-allocated cache, never recomputed. Text is released only when it is final: bytes of
a character split across tokens wait for the rest, and text that could be the start of a stop string
waits until it is clearly not one (a stop string itself is never shown).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch

from groundup.generate.sampling import SamplingParams, make_generator, sample


@dataclass
class TokenEvent:
    token_id: int
    text: str  # text this token made final ("" while held back)
    logprob: float | None = None  # log p(token) under the model's (unfiltered) distribution
    top_logprobs: dict[int, float] | None = None
    finish_reason: str | None = None  # set on the last event: "stop" or "length"


@dataclass
class Generation:
    prompt_ids: list[int]
    token_ids: list[int] = field(default_factory=list)
    text: str = ""
    finish_reason: str = "length"  # "stop" (EOS, a stop token or a stop string) or "length"
    logprobs: list[float] = field(default_factory=list)
    top_logprobs: list[dict[int, float]] = field(default_factory=list)


def fit_prompt(prompt_ids: Sequence[int], max_context: int, truncate: bool = False) -> list[int]:
    """The prompt if it leaves room for one new token; else its last tokens (truncate) or an error."""
    ids = list(prompt_ids)
    if not ids:
        raise ValueError("prompt_ids: the prompt is empty; give at least one token")
    if len(ids) < max_context:
        return ids
    if not truncate:
        raise ValueError(
            f"prompt_ids: the prompt has {len(ids)} tokens but the context window is {max_context}; "
            "shorten it or allow left-truncation (--truncate)"
        )
    return ids[-(max_context - 1) :]


def _utf8_complete(data: bytes) -> int:
    """Length of the longest prefix of `data` that does not end inside a UTF-8 character."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # a lead byte (or ASCII): is its character complete?
            need = (
                1
                if byte < 0x80
                else 2
                if byte >> 5 == 6
                else 3
                if byte >> 4 == 14
                else 4
                if byte >> 3 == 30
                else 1
            )
            return len(data) if back >= need else len(data) - back
    return len(data)


def _held_back(text: str, stops: Sequence[str]) -> int:
    """How many trailing characters might be the beginning of a stop string."""
    longest = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:n]):
                longest = n
                break
    return longest


class TextTracker:
    """Decodes the output ids incrementally and applies stop strings.

    Each token's bytes are decoded once (a byte-level vocabulary's text is the concatenation of its
    tokens' bytes), so a long generation costs O(1) per token, not a re-decode of everything so far;
    the bytes of a character split across tokens wait in `pending` for the rest.
    """

    def __init__(self, tokenizer, stops: Sequence[str]):
        self.tokenizer, self.stops = tokenizer, [s for s in stops if s]
        self.ids: list[int] = []
        self.emitted = 0  # characters of the text already released
        self.text = ""
        self.pending = b""  # the start of a UTF-8 character whose last bytes have not come yet
        self.stopped = False

    def push(self, token_id: int, final: bool = False) -> str:
        self.ids.append(token_id)
        if self.tokenizer is None:
            return ""
        data = self.pending + self.tokenizer.decode_bytes([token_id])
        complete = len(data) if final else _utf8_complete(data)
        self.text += data[:complete].decode("utf-8", errors="replace")
        self.pending = data[complete:]
        return self._release(final)

    def finish(self) -> str:
        if not self.stopped:  # text after a stop string is dropped, incomplete bytes included
            self.text += self.pending.decode("utf-8", errors="replace")
        self.pending = b""
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        window = max((len(s) for s in self.stops), default=0)
        for stop in self.stops:
            at = self.text.find(stop, max(0, self.emitted - window))
            if at >= 0:
                self.text, self.stopped, final = self.text[:at], True, True
        end = len(self.text) if final else len(self.text) - _held_back(self.text, self.stops)
        piece = self.text[self.emitted : max(end, self.emitted)]
        self.emitted = max(end, self.emitted)
        return piece


@torch.inference_mode()
def stream(
    model,
    prompt_ids: Sequence[int],
    params: SamplingParams | None = None,
    tokenizer=None,
    eos_token_id: int | None = None,
    truncate: bool = False,
) -> Iterator[TokenEvent]:
    """Yield one TokenEvent per generated token. Stops at EOS (unless `params.ignore_eos`), a stop
    token, a stop string (needs `tokenizer`), `params.max_tokens`, or the end of the context window."""
    params = params or SamplingParams()
    if eos_token_id is None and tokenizer is not None:
        eos_token_id = tokenizer.eos_token_id
    stop_ids = set(params.stop_token_ids) | (
        {eos_token_id} if eos_token_id is not None and not params.ignore_eos else set()
    )
    prompt = fit_prompt(prompt_ids, model.max_context, truncate)
    budget = min(params.max_tokens, model.max_context - len(prompt))
    generator = make_generator(params.seed)
    cache = model.new_cache(1, len(prompt) + budget)
    tracker = TextTracker(tokenizer, params.stop)
    penalized = (
        params.repetition_penalty != 1 or params.frequency_penalty != 0 or params.presence_penalty != 0
    )
    seen = list(prompt)
    logits = model(torch.tensor([prompt]), kv_cache=cache, logits_index=slice(-1, None))[:, -1]  # (1, V)
    for step in range(budget):
        token = int(sample(logits, params, generator, [seen] if penalized else None)[0])
        seen.append(token)
        event = TokenEvent(token, "")
        if params.logprobs is not None:
            logp = logits[0].float().log_softmax(-1)  # (V,)
            event.logprob = float(logp[token])
            top = logp.topk(params.logprobs) if params.logprobs else None
            event.top_logprobs = {int(i): float(v) for v, i in zip(*top)} if top is not None else {}
        done = token in stop_ids or step == budget - 1
        if token not in stop_ids:  # an EOS / stop token ends the text, it is not part of it
            event.text = tracker.push(token, final=done)
        else:
            event.text = tracker.finish()
        if done or tracker.stopped:
            event.finish_reason = "stop" if token in stop_ids or tracker.stopped else "length"
            yield event
            return
        yield event
        logits = model(torch.tensor([[token]]), kv_cache=cache)[:, -1]


def generate(model, prompt_ids, params: SamplingParams | None = None, tokenizer=None, **kwargs) -> Generation:
    """Run `stream` to the end and collect ids, text, log probabilities and the finish reason."""
    result = Generation(prompt_ids=list(prompt_ids))
    for event in stream(model, prompt_ids, params, tokenizer, **kwargs):
        result.token_ids.append(event.token_id)
        result.text += event.text
        if event.logprob is not None:
            result.logprobs.append(event.logprob)
            result.top_logprobs.append(event.top_logprobs)
        result.finish_reason = event.finish_reason or result.finish_reason
    return result


@torch.no_grad()
def generate_tokens(model, idx, max_new_tokens: int, block_size: int, params=None, generator=None):
    """Batched sampling for any `forward(idx) -> logits` model (the makemore ladder: bigram ... RNNs,
    GPT), without a KV cache: feed at most the last `block_size` tokens (the longest context the model
    was trained on), draw the next token with `sample`, append. idx (B, T) -> (B, T + max_new_tokens).
    Models that speak `CausalLM` generate faster through `stream`, which keeps a KV cache."""
    params = params or SamplingParams()
    was_training = model.training
    model.eval()
    for _ in range(max_new_tokens):
        logits = model(idx[:, -block_size:])[:, -1]  # (B, V)
        next_id = sample(logits, params, generator)  # (B,)
        idx = torch.cat([idx, next_id[:, None]], dim=1)  # (B, T + 1)
    model.train(was_training)
    return idx
