"""Sampling: turn a row of next-token logits into the distribution we draw from, then draw.

The pipeline (the order transformers and vLLM use):

    penalties (repetition, frequency, presence)  ->  / temperature  ->  top-k  ->  top-p  ->  min-p
    ->  softmax  ->  one draw with a seeded torch.Generator  (temperature 0: argmax, no randomness)

Every filter is a pure function `(logits (B, V), value) -> logits (B, V)` that sets removed tokens to
-inf, so they compose, batch, and can be checked one by one against hand-computed distributions.
`SamplingParams` validates its values once; the serving engine and the trainers reuse both.

Ties: top-k keeps every token tied with the k-th largest logit, top-p every token tied with the last
one needed to reach p, so the result never depends on how a sort orders equal values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from groundup.contracts import contract, probabilities, tensor


@dataclass(frozen=True)
class SamplingParams:
    """How to pick each next token, and when to stop. Names follow the OpenAI/vLLM APIs.

    temperature 0 is greedy. top_k 0 and top_p 1 and min_p 0 switch those filters off.
    repetition_penalty (> 0, 1 = off) divides positive / multiplies negative logits of tokens seen
    before (CTRL, Keskar et al. 2019); frequency_penalty and presence_penalty (OpenAI) subtract
    `count * frequency + (count > 0) * presence`. `logprobs`: also return the chosen token's log
    probability and the `logprobs` most likely alternatives (under the model's distribution).
    """

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    max_tokens: int = 128
    stop: tuple[str, ...] = field(default_factory=tuple)
    stop_token_ids: tuple[int, ...] = field(default_factory=tuple)
    ignore_eos: bool = False
    seed: int | None = None
    logprobs: int | None = None

    def __post_init__(self):
        checks = [
            ("temperature", self.temperature >= 0, "must be >= 0 (0 means greedy)"),
            ("top_k", isinstance(self.top_k, int) and self.top_k >= 0, "must be an integer >= 0 (0 = off)"),
            ("top_p", 0 < self.top_p <= 1, "must be in (0, 1] (1 = off)"),
            ("min_p", 0 <= self.min_p <= 1, "must be in [0, 1] (0 = off)"),
            ("repetition_penalty", self.repetition_penalty > 0, "must be > 0 (1 = off)"),
            ("frequency_penalty", -2 <= self.frequency_penalty <= 2, "must be in [-2, 2]"),
            ("presence_penalty", -2 <= self.presence_penalty <= 2, "must be in [-2, 2]"),
            (
                "max_tokens",
                isinstance(self.max_tokens, int) and self.max_tokens >= 1,
                "must be an integer >= 1",
            ),
            ("logprobs", self.logprobs is None or 0 <= self.logprobs <= 20, "must be None or in [0, 20]"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r} {rule}")
        if isinstance(self.stop, str):  # a single stop string is a common slip
            object.__setattr__(self, "stop", (self.stop,))
        object.__setattr__(self, "stop", tuple(self.stop))
        object.__setattr__(self, "stop_token_ids", tuple(self.stop_token_ids))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


NEG_INF = float("-inf")


def apply_penalties(
    logits: torch.Tensor,
    previous: Sequence[Sequence[int]],
    repetition: float = 1.0,
    frequency: float = 0.0,
    presence: float = 0.0,
) -> torch.Tensor:
    """logits (B, V); previous[b]: token ids seen so far by row b (prompt and output)."""
    if repetition == 1.0 and frequency == 0.0 and presence == 0.0:
        return logits
    counts = torch.zeros_like(logits)
    for b, ids in enumerate(previous):
        if len(ids):
            counts[b].index_add_(
                0, torch.as_tensor(list(ids), device=logits.device), torch.ones(len(ids), dtype=counts.dtype)
            )
    seen = counts > 0
    if repetition != 1.0:
        penalized = torch.where(logits > 0, logits / repetition, logits * repetition)
        logits = torch.where(seen, penalized, logits)
    return logits - frequency * counts - presence * seen.to(logits.dtype)


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits per row (and any tied with the k-th); k = 0 or k >= V keeps all."""
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    kth = logits.topk(k, dim=-1).values[..., -1:]  # (B, 1)
    return logits.masked_fill(logits < kth, NEG_INF)


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus (Holtzman et al. 2019): keep the most likely tokens until their mass reaches p."""
    if p >= 1.0:
        return logits
    probs = logits.softmax(-1)
    sorted_probs, _ = probs.sort(dim=-1, descending=True)  # (B, V)
    mass_before = sorted_probs.cumsum(-1) - sorted_probs
    n_keep = (mass_before < p).sum(-1, keepdim=True).clamp(min=1)  # (B, 1): tokens needed
    threshold = sorted_probs.gather(-1, n_keep - 1)  # probability of the last kept token
    return logits.masked_fill(probs < threshold, NEG_INF)


def min_p_filter(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    """Keep tokens whose probability is at least min_p times the top token's (Nguyen et al. 2024)."""
    if min_p <= 0.0:
        return logits
    probs = logits.softmax(-1)
    return logits.masked_fill(probs < min_p * probs.max(-1, keepdim=True).values, NEG_INF)


def process_logits(
    logits: torch.Tensor, params: SamplingParams, previous: Sequence[Sequence[int]] | None = None
) -> torch.Tensor:
    """The whole pipeline up to (not including) the softmax: (B, V) -> (B, V) with -inf for removed
    tokens. Greedy skips temperature and the filters: they cannot change the argmax."""
    logits = logits.float()
    if previous is not None:
        logits = apply_penalties(
            logits, previous, params.repetition_penalty, params.frequency_penalty, params.presence_penalty
        )
    if params.greedy:
        return logits
    logits = logits / params.temperature
    logits = top_k_filter(logits, params.top_k)
    logits = top_p_filter(logits, params.top_p)
    return min_p_filter(logits, params.min_p)


@contract(logits=tensor("B V", dtype="float"), returns=probabilities("B V", atol=1e-4))
def sampling_probs(logits: torch.Tensor, params: SamplingParams, previous=None) -> torch.Tensor:
    """(B, V) -> the distribution each next token is drawn from; one-hot rows when greedy."""
    processed = process_logits(logits, params, previous)
    if params.greedy:
        return torch.nn.functional.one_hot(processed.argmax(-1), processed.shape[-1]).float()
    return processed.softmax(-1)


def make_generator(seed: int | None) -> torch.Generator:
    """A private random stream: the same seed gives the same tokens, and no global state is touched."""
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


@contract(logits=tensor("B V", dtype="float"), returns=tensor("B", dtype="int"))
def sample(
    logits: torch.Tensor,
    params: SamplingParams,
    generator: torch.Generator | None = None,
    previous: Sequence[Sequence[int]] | None = None,
) -> torch.Tensor:
    """(B, V) logits -> (B,) token ids."""
    processed = process_logits(logits, params, previous)
    if params.greedy:
        return processed.argmax(-1)
    return torch.multinomial(processed.softmax(-1), 1, generator=generator).squeeze(-1)
