"""The chat playground's data: a reply streamed token by token, with the decode speed as it runs.

The prompt is the conversation rendered with the model's own chat template (`generate.render_chat`),
decoded by `generate.stream` (KV cache, the sampler's filters, stop at EOS). Each event carries the
text the token completed and the tokens/s measured since the first token, so the page shows the speed
live; the first token's latency (prefill) is reported apart, as the serving engine's metrics do.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from groundup.generate.chat import render_chat
from groundup.generate.decode import stream
from groundup.generate.sampling import SamplingParams

MAX_REPLY_TOKENS = 256


def chat_events(
    model,
    tokenizer,
    messages: list[dict],
    *,
    temperature: float = 0.7,
    top_p: float = 0.95,
    max_tokens: int = 96,
) -> Iterator[dict]:
    """Yield {"text", "tokens", "tokens_per_s", "first_token_s"} per token, then a final event with
    "done": true and the finish reason."""
    if not 1 <= max_tokens <= MAX_REPLY_TOKENS:
        raise ValueError(f"max_tokens must be in [1, {MAX_REPLY_TOKENS}], got {max_tokens}")
    params = SamplingParams(temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=0)
    if tokenizer.chat_template:
        prompt = tokenizer.encode(render_chat(tokenizer.chat_template, messages))
    else:  # a model without a template continues the last message
        prompt = tokenizer.encode(messages[-1]["content"])
    start = time.perf_counter()
    first = None
    count = 0
    finish = None
    for event in stream(model, prompt, params, tokenizer, truncate=True):
        now = time.perf_counter()
        first = first or now
        count += 1
        decode_s = now - first
        finish = event.finish_reason or finish
        yield {
            "text": event.text,
            "tokens": count,
            "tokens_per_s": (count - 1) / decode_s if decode_s > 0 else 0.0,
            "first_token_s": first - start,
        }
    yield {"done": True, "finish_reason": finish, "tokens": count, "prompt_tokens": len(prompt)}
