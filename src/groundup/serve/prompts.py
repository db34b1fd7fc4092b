"""From a request's prompt to the engine's sequences: the CPU work of a request, run on a worker thread
(`serve/workers.py`) so that the event loop never waits for it.

A completions `prompt` is a text, a batch of texts, token ids, or a batch of token-id lists; a chat
request is its messages rendered by the model's chat template. The text's length and the number of
prompts are checked before anything is tokenized (`ServerConfig.max_prompt_chars`,
`max_batch_prompts`), so the work a request can cause is bounded by configuration, not by the
tokenizer's speed. Each prompt becomes a group of `n` sequences, checked
by the engine (`RequestLimits`). Refusals are `RequestError`s naming `prompt`; the server renames the
field for the chat endpoint (`messages`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from groundup.errors import GroundupError
from groundup.generate import SamplingParams
from groundup.generate.chat import render_chat
from groundup.serve.async_engine import AsyncEngine
from groundup.serve.limits import RequestError
from groundup.serve.sequence import Sequence
from groundup.tokenizers.protocol import Tokenizer

PROMPT_TOO_LONG = "prompt_too_long"
TOO_MANY_PROMPTS = "too_many_prompts"

# a prompt's length in tokens -> the SamplingParams of its n sequences
ParamsFor = Callable[[int], list[SamplingParams]]


@dataclass
class Prepared:
    """A request ready to run: one group of n sequences per prompt, in the batch's order."""

    groups: list[list[Sequence]]
    prompt_tokens: int  # all prompts' tokens, each prompt counted once (usage)
    texts: list[str]  # each prompt as text, for `echo`


def completion_batch(prompt) -> list:
    """The prompts of a completions request: each a text or a list of token ids."""
    if isinstance(prompt, str):
        return [prompt]
    if not prompt:
        return [[]]  # one empty prompt, which the engine's check refuses by name
    return list(prompt) if isinstance(prompt[0], (str, list)) else [list(prompt)]


class PromptBuilder:
    def __init__(self, engine: AsyncEngine, tokenizer: Tokenizer, max_chars: int, max_prompts: int):
        self.engine, self.tokenizer = engine, tokenizer
        self.max_chars, self.max_prompts = max_chars, max_prompts

    def completion(self, prompt, params_for: ParamsFor, echo: bool = False, logit_bias=None) -> Prepared:
        batch = completion_batch(prompt)
        if len(batch) > self.max_prompts:
            raise RequestError(
                f"the request has {len(batch)} prompts, more than this server takes at once "
                f"({self.max_prompts}); split the batch, or start the server with a larger "
                "--max-batch-prompts",
                "prompt",
                TOO_MANY_PROMPTS,
            )
        self._check_length(sum(len(p) for p in batch if isinstance(p, str)))
        ids = [self._encode(p) if isinstance(p, str) else p for p in batch]
        texts = [""] * len(batch)
        if echo:
            texts = [p if isinstance(p, str) else self.tokenizer.decode(i) for p, i in zip(batch, ids)]
        return self._prepare(ids, params_for, texts, logit_bias)

    def chat(self, messages, params_for: ParamsFor, logit_bias=None) -> Prepared:
        """`messages`: protocol.ChatMessage objects."""
        return self._prepare([self.chat_ids(messages)], params_for, [""], logit_bias)

    def chat_ids(self, messages) -> list[int]:
        """The token ids of `messages` rendered by the chat template (ready for the reply)."""
        self._check_length(sum(len(m.text) for m in messages))
        return self._encode(self._render(messages))

    def text_ids(self, text: str) -> list[int]:
        self._check_length(len(text))
        return self._encode(text)

    def _prepare(
        self, prompts: list[list[int]], params_for: ParamsFor, texts: list[str], logit_bias
    ) -> Prepared:
        """`logit_bias`: token id -> bias, for every sequence of the request."""
        groups = [self.engine.make_sequences(ids, params_for(len(ids)), logit_bias) for ids in prompts]
        return Prepared(groups, sum(len(ids) for ids in prompts), texts)

    def _check_length(self, chars: int) -> None:
        if chars > self.max_chars:
            raise RequestError(
                f"the prompt has {chars} characters, more than this server tokenizes for one request "
                f"({self.max_chars}); shorten it, or start the server with a larger --max-prompt-chars",
                "prompt",
                PROMPT_TOO_LONG,
            )

    def _encode(self, text: str) -> list[int]:
        try:
            return self.tokenizer.encode(text)
        except GroundupError as exc:  # e.g. a character outside a character-level model's vocabulary
            raise RequestError(str(exc), "prompt") from exc

    def _render(self, messages) -> str:
        tok = self.tokenizer
        if not tok.chat_template:
            raise RequestError(
                "this model has no chat template, so it cannot take chat messages; send a text prompt "
                "to /v1/completions instead",
                "prompt",
            )

        def name(token_id):
            return tok.id_to_token(token_id) if token_id is not None else ""

        try:
            return render_chat(
                tok.chat_template,
                [{"role": m.role, "content": m.text} for m in messages],
                bos_token=name(tok.bos_token_id),
                eos_token=name(tok.eos_token_id),
            )
        except GroundupError as exc:
            raise RequestError(str(exc), "prompt") from exc
