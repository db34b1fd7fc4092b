"""Chat templates: the jinja2 program stored in a model file that turns messages into prompt text.

A chat model was trained on conversations written in one exact format (SmolLM2: ChatML,
`<|im_start|>role\\ncontent<|im_end|>\\n`). The GGUF carries that format as a jinja2 template in
`tokenizer.chat_template`; rendering it with the same settings as transformers (sandboxed, blocks
trimmed, `raise_exception` and `tojson` available) gives the prompt the model expects.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache

from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from groundup.errors import GroundupError


def _raise(message: str):
    raise TemplateError(message)


@lru_cache(maxsize=8)
def _compile(template: str):
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    env.filters["tojson"] = lambda value, indent=None: json.dumps(value, ensure_ascii=False, indent=indent)
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(template)


def render_chat(
    template: str | None,
    messages: list[dict],
    add_generation_prompt: bool = True,
    bos_token: str = "",
    eos_token: str = "",
    **extra,
) -> str:
    """The prompt text for `messages` ([{"role": "user", "content": "..."}, ...])."""
    if not template:
        raise GroundupError(
            "the model file has no chat template (tokenizer.chat_template); use `generate` instead"
        )
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise ValueError(f"messages[{i}] must be a dict with 'role' and 'content', got {message!r}")
    try:
        return _compile(template).render(
            messages=messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=bos_token,
            eos_token=eos_token,
            **extra,
        )
    except TemplateError as exc:
        raise GroundupError(f"the chat template failed: {exc}") from exc
