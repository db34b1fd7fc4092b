"""Generation on the real SmolLM2 against transformers' generate, and the loop's own contracts."""

from __future__ import annotations

import pytest
import torch

from groundup.generate import SamplingParams, generate, render_chat, stream
from groundup.generate.decode import fit_prompt

pytestmark = pytest.mark.module("2.1")

PROMPT = "The three most important inventions of the nineteenth century were"


def hf_greedy(hf, ids, n):
    out = hf.generate(
        torch.tensor([ids]),
        max_new_tokens=n,
        do_sample=False,
        eos_token_id=2,
        pad_token_id=2,
        output_logits=True,
        return_dict_in_generate=True,
    )
    return out.sequences[0, len(ids) :].tolist(), out.logits


def check_greedy(smollm2, hf_smollm2, tokenizer, n):
    ids = tokenizer.encode(PROMPT)
    ref_ids, ref_logits = hf_greedy(hf_smollm2, ids, n)
    ours = generate(smollm2, ids, SamplingParams(temperature=0, max_tokens=n, logprobs=3), eos_token_id=2)
    assert ours.token_ids == ref_ids
    for step, (token, logprob) in enumerate(zip(ours.token_ids, ours.logprobs)):
        ref = ref_logits[step][0].float().log_softmax(-1)
        assert abs(logprob - float(ref[token])) < 1e-3
        assert set(ours.top_logprobs[step]) == set(ref.topk(3).indices.tolist())
    return ours


def test_greedy_16_tokens_equal_transformers(smollm2, hf_smollm2, smollm2_tokenizer):
    check_greedy(smollm2, hf_smollm2, smollm2_tokenizer, 16)


@pytest.mark.slow
def test_greedy_64_tokens_equal_transformers(smollm2, hf_smollm2, smollm2_tokenizer):
    ours = check_greedy(smollm2, hf_smollm2, smollm2_tokenizer, 64)
    assert len(ours.token_ids) == 64 or ours.finish_reason == "stop"


def test_stream_text_equals_decoded_ids_and_seed_reproduces(smollm2, smollm2_tokenizer):
    ids = smollm2_tokenizer.encode(PROMPT)
    params = SamplingParams(temperature=0.9, top_p=0.95, max_tokens=12, seed=1234)
    events = list(stream(smollm2, ids, params, smollm2_tokenizer))
    tokens = [e.token_id for e in events]
    text = "".join(e.text for e in events)
    assert text == smollm2_tokenizer.decode([t for t in tokens if t != smollm2_tokenizer.eos_token_id])
    again = generate(smollm2, ids, params, smollm2_tokenizer)
    assert again.token_ids == tokens and again.text == text
    assert events[-1].finish_reason in ("stop", "length")


def test_stop_string_cuts_text_and_stops(smollm2, smollm2_tokenizer):
    ids = smollm2_tokenizer.encode("The capital of France is")
    free = generate(smollm2, ids, SamplingParams(temperature=0, max_tokens=10), smollm2_tokenizer)
    assert "." in free.text  # greedy: " Paris.\n\n..."
    cut = generate(smollm2, ids, SamplingParams(temperature=0, max_tokens=10, stop=["."]), smollm2_tokenizer)
    assert cut.text == free.text[: free.text.index(".")] and cut.finish_reason == "stop"
    assert len(cut.token_ids) < len(free.token_ids)


def test_chat_prompt_through_template_ends_at_eos(smollm2, smollm2_tokenizer):
    text = render_chat(smollm2_tokenizer.chat_template, [{"role": "user", "content": "Say hello."}])
    out = generate(
        smollm2,
        smollm2_tokenizer.encode(text),
        SamplingParams(temperature=0, max_tokens=40),
        smollm2_tokenizer,
    )
    assert out.finish_reason == "stop" and out.token_ids[-1] == smollm2_tokenizer.eos_token_id
    assert out.text.strip() and "<|im_end|>" not in out.text


def test_prompt_longer_than_context():
    with pytest.raises(ValueError, match="prompt_ids: the prompt has 10 tokens but the context window is 8"):
        fit_prompt(list(range(10)), 8)
    assert fit_prompt(list(range(10)), 8, truncate=True) == list(range(3, 10))
    with pytest.raises(ValueError, match="prompt_ids: the prompt is empty"):
        fit_prompt([], 8)


@pytest.mark.slow
def test_generate_cli_greedy_matches_library(smollm2, smollm2_tokenizer, capsys):
    import argparse

    from groundup.commands import generate as generate_cli

    parser = argparse.ArgumentParser(prog="groundup")
    generate_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["generate", "The capital of France is", "--max-tokens", "6", "--temperature", "0"]
    )
    assert args.func(args) == 0
    out = capsys.readouterr()
    ids = smollm2_tokenizer.encode("The capital of France is")
    expected = generate(smollm2, ids, SamplingParams(temperature=0, max_tokens=6), smollm2_tokenizer).text
    assert out.out.startswith("The capital of France is" + expected) and "tokens/s" in out.err
