"""Request and response bodies of the OpenAI-compatible API (pydantic), in the order of OpenAI's
API reference. Only the fields groundup serves are declared; unknown extra fields are ignored, as
OpenAI clients send a few optional ones we do not use, except the chat fields that ask for something
this server cannot do (tools, a structured `response_format`), which are declared so that a request
using them is refused by name (`ChatCompletionRequest.unsupported_field`) instead of silently served
without them."""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


class StreamOptions(BaseModel):
    include_usage: bool = False


class SamplingFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)  # the newer name of max_tokens
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    top_k: int = Field(default=0, ge=0)  # not in OpenAI's API; accepted as vLLM does
    n: int = Field(default=1, ge=1, le=16)
    stream: bool = False
    stop: str | list[str] | None = None
    seed: int | None = None
    stream_options: StreamOptions | None = None
    logit_bias: dict[str, float] | None = None  # token id (as a string, as JSON keys are) -> bias
    ignore_eos: bool = False  # not in OpenAI's API; vLLM's: generate max_tokens whatever (benchmarks)

    @field_validator("logit_bias")
    @classmethod
    def _bias_range(cls, bias):
        for key, value in (bias or {}).items():
            if not key.lstrip("-").isdigit():
                raise ValueError(f"logit_bias keys are token ids; {key!r} is not an integer")
            if not -100 <= value <= 100:
                raise ValueError(f"logit_bias values lie in [-100, 100]; token {key} has {value}")
        return bias

    def token_bias(self) -> dict[int, float] | None:
        return {int(k): v for k, v in self.logit_bias.items()} if self.logit_bias else None

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop)
        return [s for s in stops if s]

    def token_limit_field(self) -> str:
        """The field that set the output limit, to name in an error about it."""
        if self.max_tokens is None and self.max_completion_tokens is not None:
            return "max_completion_tokens"
        return "max_tokens"


class CompletionRequest(SamplingFields):
    prompt: str | list[str] | list[int] | list[list[int]]  # a text, a batch of texts, ids, a batch of ids
    logprobs: int | None = Field(default=None, ge=0, le=5)
    echo: bool = False
    best_of: int | None = Field(default=None, ge=1, le=16)

    @field_validator("prompt", mode="wrap")
    @classmethod
    def _one_of_four_shapes(cls, value, handler):
        try:
            return handler(value)
        except ValidationError:  # one error per union member otherwise, none of them to the point
            raise ValueError(
                "prompt must be a string, a list of strings, a list of token ids or a list of token-id lists"
            ) from None


class ContentPart(BaseModel):
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart]

    @field_validator("content")
    @classmethod
    def _text_parts_only(cls, content):
        for i, part in enumerate(content if isinstance(content, list) else []):
            if part.type != "text" or part.text is None:
                raise ValueError(
                    f"content part {i} has type {part.type!r}; this server takes text only: a string or "
                    "parts {'type': 'text', 'text': ...}"
                )
        return content

    @property
    def text(self) -> str:
        """The content as one string (text parts joined by newlines, as vLLM does)."""
        return self.content if isinstance(self.content, str) else "\n".join(p.text for p in self.content)


# field -> the values that ask for nothing beyond plain text generation, which are accepted
NO_OP_VALUES = {
    "response_format": ({"type": "text"},),
    "tools": ([],),
    "tool_choice": ("none",),
    "functions": ([],),
    "function_call": ("none",),
}


class ChatCompletionRequest(SamplingFields):
    messages: list[ChatMessage] = Field(min_length=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    response_format: Any = None
    tools: Any = None
    tool_choice: Any = None
    functions: Any = None
    function_call: Any = None

    def unsupported_field(self) -> str | None:
        """The first field that asks for something this server does not do, if any."""
        for name, no_ops in NO_OP_VALUES.items():
            value = getattr(self, name)
            if value is not None and value not in no_ops:
                return name
        return None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class CompletionLogprobs(BaseModel):
    tokens: list[str]
    token_logprobs: list[float | None]  # None for the first token of an echoed prompt (no context)
    top_logprobs: list[dict[str, float] | None] | None = None
    text_offset: list[int]


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: CompletionLogprobs | None = None
    finish_reason: str | None = None


class CompletionResponse(BaseModel):
    id: str = Field(default_factory=lambda: new_id("cmpl"))
    object: Literal["text_completion"] = "text_completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None


class TokenLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None = None
    top_logprobs: list[dict] = Field(default_factory=list)


class ChoiceLogprobs(BaseModel):
    content: list[TokenLogprob]


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    logprobs: ChoiceLogprobs | None = None
    finish_reason: str | None = None


class ChatCompletionResponse(BaseModel):
    id: str = Field(default_factory=lambda: new_id("chatcmpl"))
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[ChatChoice]
    usage: Usage | None = None


class DeltaMessage(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChatChunkChoice(BaseModel):
    index: int
    delta: DeltaMessage
    logprobs: ChoiceLogprobs | None = None
    finish_reason: str | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: Usage | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = Field(default_factory=lambda: int(time.time()))
    owned_by: str = "groundup"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class TokenizeRequest(BaseModel):
    """vLLM's /tokenize body (what lm-evaluation-harness's remote tokenizer sends): a text `prompt`
    or chat `messages`."""

    model_config = ConfigDict(extra="ignore")

    prompt: str | None = None
    messages: list[ChatMessage] | None = None
    add_special_tokens: bool = True


class TokenizeResponse(BaseModel):
    tokens: list[int]
    count: int
    max_model_len: int


class DetokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tokens: list[int]


class DetokenizeResponse(BaseModel):
    prompt: str


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
