"""One request's state as the engine sees it: token ids in, token ids out, and where its KV lives.

`num_computed_tokens` counts the leading tokens of `all_ids` whose keys/values are in the KV cache;
the scheduler gives a sequence `len(all_ids) - num_computed_tokens` (or a chunk of it) to compute next.
Preemption by recompute simply sets it back to 0: prompt and outputs so far are recomputed later
(most of it usually comes straight back from the prefix cache).

A `Span` is what one forward computes for one sequence: explicit tokens at explicit positions through
its block table. The engine builds spans from the sequences' state (`Sequence.span`) and never
rewrites that state to make a forward see something else (the self-draft builds its own spans).
"""

from __future__ import annotations

import enum
import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from groundup.generate import SamplingParams

_ids = itertools.count()


class Status(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


class FinishReason(enum.StrEnum):
    STOP = "stop"  # end-of-sequence token or a stop sequence
    LENGTH = "length"  # max_tokens or the context limit
    ABORT = "abort"  # cancelled by the client


@dataclass
class Span:
    """`token_ids` at positions `start, start + 1, ...` of one sequence, whose K/V go into (and whose
    context comes from) the blocks of `block_table`. Logits are wanted for the last `num_logits` tokens:
    0 for a prefill chunk short of the prompt's end, 1 + drafts for a speculative step."""

    block_table: list[int]
    start: int
    token_ids: list[int]
    num_logits: int = 1


@dataclass
class Sequence:
    """Request state: prompt/output ids, sampling params, status, block table and timings."""

    prompt_ids: list[int]
    params: SamplingParams
    eos_token_ids: tuple[int, ...] = ()  # the model's end-of-sequence ids (ignored with params.ignore_eos)
    seq_id: int = field(default_factory=lambda: next(_ids))
    output_ids: list[int] = field(default_factory=list)
    output_logprobs: list[float] = field(default_factory=list)
    output_top_logprobs: list[dict[int, float]] = field(default_factory=list)  # params.logprobs > 0
    logit_bias: dict[int, float] | None = None  # added to the logits before sampling (OpenAI's logit_bias)
    max_tokens: int = field(init=False)
    stop_ids: set[int] = field(init=False)
    status: Status = Status.WAITING
    finish_reason: FinishReason | None = None
    block_table: list[int] = field(default_factory=list)
    num_computed_tokens: int = 0
    num_cached_tokens: int = 0  # prompt tokens served by the prefix cache at the last admission
    num_preemptions: int = 0
    generator: torch.Generator | None = None  # set when the request has a seed
    arrival_time: float = field(default_factory=time.perf_counter)
    first_token_time: float | None = None
    last_token_time: float | None = None
    token_times: list[float] = field(default_factory=list)
    forks: list[Sequence] = field(default_factory=list)  # n > 1: siblings forked after this prefill
    draft_ids: list[int] = field(default_factory=list)  # speculative tokens scheduled this step
    num_drafted: int = 0
    num_accepted: int = 0

    def __post_init__(self) -> None:
        if not self.prompt_ids:
            raise ValueError("prompt_ids must hold at least one token")
        self.max_tokens = self.params.max_tokens
        self.stop_ids = set(self.params.stop_token_ids) | set(
            () if self.params.ignore_eos else self.eos_token_ids
        )

    @property
    def all_ids(self) -> list[int]:
        return self.prompt_ids + self.output_ids

    def __len__(self) -> int:
        return len(self.prompt_ids) + len(self.output_ids)

    @property
    def num_uncomputed(self) -> int:
        """Tokens whose KV is not yet in the cache (the whole prompt at first, then the last output)."""
        return len(self) - self.num_computed_tokens

    def span(self, num_tokens: int) -> Span:
        """The next `num_tokens` tokens to compute (its uncomputed tokens, then this step's drafts);
        logits from its last real token on."""
        start = self.num_computed_tokens
        ids = (self.all_ids + self.draft_ids)[start : start + num_tokens]
        return Span(self.block_table, start, ids, num_logits=max(0, start + num_tokens - len(self) + 1))

    @property
    def is_finished(self) -> bool:
        return self.status is Status.FINISHED

    def append_token(self, token_id: int, logprob: float = 0.0, top: dict[int, float] | None = None) -> None:
        now = time.perf_counter()
        if self.first_token_time is None:
            self.first_token_time = now
        self.last_token_time = now
        self.token_times.append(now)
        self.output_ids.append(token_id)
        self.output_logprobs.append(logprob)
        if top is not None:
            self.output_top_logprobs.append(top)

    def check_finished(self) -> bool:
        """Finish on EOS/stop token ids or max_tokens; stop strings are the server's (it sees text)."""
        if self.output_ids and self.output_ids[-1] in self.stop_ids:
            self.finish(FinishReason.STOP)
        elif len(self.output_ids) >= self.max_tokens:
            self.finish(FinishReason.LENGTH)
        return self.is_finished

    def finish(self, reason: FinishReason) -> None:
        self.status = Status.FINISHED
        self.finish_reason = reason
