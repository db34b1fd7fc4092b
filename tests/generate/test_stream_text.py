"""Streaming text release: split UTF-8 characters and stop strings, with a scripted fake model."""

from __future__ import annotations

import argparse

import pytest
import torch

from groundup.commands import generate as generate_cli
from groundup.generate import SamplingParams, generate, stream

pytestmark = pytest.mark.module("2.1")


class ByteTokenizer:
    """Token id = byte value; 256 is EOS."""

    eos_token_id = 256

    def decode_bytes(self, ids):
        return bytes(i for i in ids if i < 256)

    def decode(self, ids):
        return self.decode_bytes(ids).decode("utf-8", errors="replace")


class ScriptedModel:
    """Emits a fixed sequence of token ids whatever the input (greedy picks the one-hot)."""

    max_context = 64

    def __init__(self, script: bytes | list[int]):
        self.script = list(script)
        self.step = 0

    def new_cache(self, batch_size, max_len):
        return None

    def __call__(self, ids, kv_cache=None, logits_index=None):
        logits = torch.full((1, 1, 257), -10.0)
        logits[0, 0, self.script[min(self.step, len(self.script) - 1)]] = 10.0
        self.step += 1
        return logits


GREEDY = SamplingParams(temperature=0, max_tokens=30)


def texts(script, params=GREEDY):
    return [e.text for e in stream(ScriptedModel(script), [1], params, ByteTokenizer())]


def test_multibyte_character_waits_for_its_last_byte():
    script = list("é!".encode()) + [256]  # é = 0xC3 0xA9
    assert texts(script) == ["", "é", "!", ""]


def test_stop_string_is_held_back_then_dropped():
    script = list(b"ab<END>cd")
    params = SamplingParams(temperature=0, max_tokens=30, stop=["<END>"])
    pieces = texts(script, params)
    assert "".join(pieces) == "ab" and pieces[:3] == ["a", "b", ""]
    out = generate(ScriptedModel(script), [1], params, ByteTokenizer())
    assert out.text == "ab" and out.finish_reason == "stop" and len(out.token_ids) == 7


def test_false_stop_prefix_is_released():
    params = SamplingParams(temperature=0, max_tokens=5, stop=["<END>"])
    out = generate(ScriptedModel(list(b"a<Ex")), [1], params, ByteTokenizer())
    assert out.text == "a<Exx" and out.finish_reason == "length"


def test_eos_ends_without_text_and_ignore_eos_continues():
    out = generate(ScriptedModel([65, 256, 66]), [1], GREEDY, ByteTokenizer())
    assert out.token_ids == [65, 256] and out.text == "A" and out.finish_reason == "stop"
    params = SamplingParams(temperature=0, max_tokens=3, ignore_eos=True)
    out = generate(ScriptedModel([65, 256, 66]), [1], params, ByteTokenizer())
    assert out.token_ids == [65, 256, 66] and out.finish_reason == "length"


def test_cli_rejects_bad_sampling_values_before_loading(capsys):
    """Bad values are usage errors naming the option (issue 14: `--temperature`, not `temperature=`),
    caught by argparse before any model is loaded."""
    parser = argparse.ArgumentParser(prog="groundup")
    generate_cli.register(parser.add_subparsers(dest="command", required=True))
    for argv, message in (
        (["--temperature", "-1"], "argument --temperature: must be a finite number >= 0, got -1"),
        (["--top-k", "-2"], "argument --top-k: must be >= 0, got -2"),
        (["--temperature", "inf"], "argument --temperature: must be a finite number"),
    ):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(["generate", "hi", *argv])
        assert exc.value.code == 2 and message in capsys.readouterr().err


def test_each_token_is_decoded_once_so_long_outputs_cost_linear_time():
    """The tracker decodes only the new token's bytes (issue 14: re-decoding every id on every token
    made a long generation quadratic); the text equals decoding everything at once."""
    calls = []

    class CountingTokenizer(ByteTokenizer):
        def decode_bytes(self, ids):
            calls.append(len(ids))
            return super().decode_bytes(ids)

    script = list("naïve café ✓ ".encode() * 3) + [256]  # within the fake model's context
    out = generate(
        ScriptedModel(script), [1], SamplingParams(temperature=0, max_tokens=600), CountingTokenizer()
    )
    assert out.text == bytes(script[:-1]).decode()
    assert set(calls) == {1}


@pytest.mark.parametrize("flags", [[], ["--stream"]], ids=["collected", "streamed"])
def test_generate_prints_the_prompt_in_both_modes(flags, monkeypatch, capsys):
    """`generate` printed its prompt without --stream and not with it (issue 14.8): now both read on."""
    from groundup.cli import main

    class Tokenizer(ByteTokenizer):
        def encode(self, text):
            return list(text.encode())

    model = ScriptedModel(list(b" world") + [256])
    monkeypatch.setattr(generate_cli, "load_model", lambda args: (model, Tokenizer(), 0.0))
    assert main(["generate", "Hello", "--temperature", "0", *flags]) == 0
    assert capsys.readouterr().out == "Hello world\n"
