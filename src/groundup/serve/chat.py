"""Chat messages -> prompt text with the model's own chat template (the Jinja template stored in the
GGUF metadata, `tokenizer.chat_template`), rendered the way transformers' `apply_chat_template` does."""

from __future__ import annotations

import jinja2
import jinja2.sandbox

from groundup.errors import GroundupError


def render_chat(tokenizer, messages: list[dict], add_generation_prompt: bool = True) -> str:
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        raise GroundupError("the tokenizer has no chat template; use /v1/completions with a plain prompt")
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(
        messages=messages,
        add_generation_prompt=add_generation_prompt,
        bos_token=getattr(tokenizer, "bos_token", "") or "",
        eos_token=getattr(tokenizer, "eos_token", "") or "",
    )
