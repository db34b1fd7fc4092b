"""What one request may ask of an engine, checked in one place.

`Engine.make_sequence` calls `RequestLimits.check` for every request, whether it comes from the HTTP
server or from a script; past that point the scheduler and block manager only assert what was
checked. A refusal is a `RequestError` carrying the OpenAI error fields the server answers with:
`param` (the request field to change: "prompt" or "max_tokens"; the chat endpoint says "messages"
for the prompt) and `code` (e.g. `context_length_exceeded`).
"""

from __future__ import annotations

from dataclasses import dataclass

from groundup.errors import GroundupError

CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"


class RequestError(GroundupError):
    """A request the engine can never serve; `param` and `code` say which field and why."""

    def __init__(self, message: str, param: str, code: str | None = None):
        super().__init__(message)
        self.param, self.code = param, code


class OutOfBlocks(RequestError):
    """A request needs more KV blocks than the pool can ever give it."""


@dataclass(frozen=True)
class RequestLimits:
    max_context: int  # the model's context window, in tokens
    vocab_size: int
    num_blocks: int  # the KV pool: one sequence can hold at most num_blocks * block_size tokens
    block_size: int

    @property
    def max_tokens_total(self) -> int:
        """The most tokens (prompt + output) one sequence can reach on this engine."""
        return min(self.max_context, self.num_blocks * self.block_size)

    def default_max_tokens(self, prompt_len: int, cap: int) -> int:
        """max_tokens for a request that gives none: `cap`, or what room the prompt leaves (at least 1,
        so a prompt with no room at all is refused by `check`, naming the prompt)."""
        return max(1, min(cap, self.max_tokens_total - prompt_len))

    def check(self, prompt_ids: list[int], max_tokens: int) -> None:
        """Raise RequestError unless the request fits the model and the KV pool."""
        n = len(prompt_ids)
        if n == 0:
            raise RequestError("the prompt is empty; send at least one token", "prompt")
        if any(not 0 <= t < self.vocab_size for t in prompt_ids):
            raise RequestError(
                f"prompt token ids must lie in [0, {self.vocab_size}) for this model",
                "prompt",
                "invalid_token_id",
            )
        _check_room(n, max_tokens, self.max_context, "the model's context", RequestError, "")
        pool = f"the KV pool ({self.num_blocks} KV blocks of {self.block_size} tokens)"
        more = ", or start the engine with more KV blocks"
        _check_room(n, max_tokens, self.num_blocks * self.block_size, pool, OutOfBlocks, more)

    def check_logit_bias(self, bias: dict[int, float] | None) -> None:
        """Raise RequestError unless every biased token id lies in the vocabulary."""
        bad = [t for t in bias or {} if not 0 <= t < self.vocab_size]
        if bad:
            raise RequestError(
                f"logit_bias names token ids outside [0, {self.vocab_size}) for this model: {bad[:5]}",
                "logit_bias",
                "invalid_token_id",
            )


def _check_room(n: int, max_tokens: int, limit: int, what: str, error: type[RequestError], fix: str) -> None:
    """A prompt of `n` tokens must leave room for output within `limit`, and for all of max_tokens."""
    if n >= limit:
        raise error(
            f"the prompt has {n} tokens, which leaves no room for output in {what} of {limit} tokens; "
            f"shorten the prompt{fix}",
            "prompt",
            CONTEXT_LENGTH_EXCEEDED,
        )
    if n + max_tokens > limit:
        raise error(
            f"prompt ({n} tokens) + max_tokens ({max_tokens}) = {n + max_tokens} exceeds {what} of "
            f"{limit} tokens; lower max_tokens to at most {limit - n} or shorten the prompt{fix}",
            "max_tokens",
            CONTEXT_LENGTH_EXCEEDED,
        )
