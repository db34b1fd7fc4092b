"""The GGUF's chat template rendered by us equals transformers' apply_chat_template."""

from __future__ import annotations

import pytest

from groundup.data import smollm2_gguf_path
from groundup.errors import GroundupError
from groundup.generate import render_chat

pytestmark = pytest.mark.module("2.1")

CONVERSATIONS = [
    [{"role": "user", "content": "Hi!"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why is the sky blue?"}],
    [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "and é × 3?"},
    ],
]


@pytest.fixture(scope="module")
def hf_tokenizer():
    transformers = pytest.importorskip("transformers")
    path = smollm2_gguf_path()
    return transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


@pytest.mark.slow  # loading transformers' tokenizer from the GGUF takes a while
@pytest.mark.parametrize("messages", CONVERSATIONS)
@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_render_equals_transformers(smollm2_tokenizer, hf_tokenizer, messages, add_generation_prompt):
    ours = render_chat(smollm2_tokenizer.chat_template, messages, add_generation_prompt)
    ref = hf_tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )
    assert ours == ref


def test_smollm2_template_is_chatml(smollm2_tokenizer):
    text = render_chat(smollm2_tokenizer.chat_template, CONVERSATIONS[0])
    assert text == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n"
    )


def test_template_errors_are_one_line():
    with pytest.raises(GroundupError, match="the chat template failed: nope"):
        render_chat("{{ raise_exception('nope') }}", [])
    with pytest.raises(GroundupError, match="no chat template"):
        render_chat(None, [])
    with pytest.raises(ValueError, match=r"messages\[0\] must be a dict"):
        render_chat("x", [{"content": "no role"}])
