"""Beam search against transformers' beam search on the real SmolLM2 (same sequences and scores)."""

from __future__ import annotations

import pytest
import torch

from groundup.generate import beam_search

pytestmark = pytest.mark.module("2.1")


def hf_beams(hf, prompt, num_beams, max_tokens, length_penalty, early_stopping):
    out = hf.generate(
        torch.tensor([prompt]),
        num_beams=num_beams,
        max_new_tokens=max_tokens,
        length_penalty=length_penalty,
        early_stopping=early_stopping,
        do_sample=False,
        eos_token_id=2,
        pad_token_id=2,
        num_return_sequences=num_beams,
        output_scores=True,
        return_dict_in_generate=True,
    )
    return out.sequences[:, len(prompt) :].tolist(), out.sequences_scores.tolist()


def check(ours_model, hf, prompt, **kw):
    ours = beam_search(ours_model, prompt, eos_token_id=2, **kw)
    ref_seqs, ref_scores = hf_beams(
        hf, prompt, kw["num_beams"], kw["max_tokens"], kw["length_penalty"], kw["early_stopping"]
    )
    assert len(ours) == len(ref_seqs)
    for hyp, seq, score in zip(ours, ref_seqs, ref_scores):
        assert seq[: len(hyp.token_ids)] == hyp.token_ids and set(seq[len(hyp.token_ids) :]) <= {2}  # pad = 2
        assert hyp.score == pytest.approx(score, abs=1e-3)


@pytest.mark.slow
def test_beam_search_equals_transformers(smollm2, hf_smollm2, smollm2_tokenizer):
    prompt = smollm2_tokenizer.encode("The capital of France is")
    check(smollm2, hf_smollm2, prompt, num_beams=3, max_tokens=8, length_penalty=1.0, early_stopping=False)


@pytest.mark.slow
def test_beam_search_with_eos_and_early_stopping_equals_transformers(smollm2, hf_smollm2, smollm2_tokenizer):
    chat = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    prompt = smollm2_tokenizer.encode(chat)
    check(smollm2, hf_smollm2, prompt, num_beams=4, max_tokens=20, length_penalty=0.5, early_stopping=True)
    check(smollm2, hf_smollm2, prompt, num_beams=3, max_tokens=16, length_penalty=1.0, early_stopping=False)


def test_beam_search_validates_arguments(smollm2):
    with pytest.raises(ValueError, match="num_beams=0"):
        beam_search(smollm2, [1, 2], num_beams=0)
