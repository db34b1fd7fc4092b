"""Checks of the 0.5 positions/families study and the 0.7 BPE-vs-char GPT study: each family reads
the task the way its name says (decoders never see the answer they predict, the encoder sees the whole
input), every position encoding builds and trains, and bits per character are counted exactly."""

from __future__ import annotations

import math

import pytest
import torch

from groundup.train.studies.bpe_gpt import bits_per_char, bpe_side, split_text, train_gpt
from groundup.train.studies.transformer_variants import (
    FAMILIES,
    POSITIONS,
    build,
    config,
    exact_match,
    reversal_batch,
    target_logits,
    train,
)


@pytest.mark.module("0.5")
@pytest.mark.parametrize("family", ["decoder", "encoder-decoder"])
def test_decoder_families_do_not_see_the_digit_they_predict(family):
    torch.manual_seed(0)
    model = build(family, config(16)).eval()
    x, y = reversal_batch(3, 5, torch.Generator().manual_seed(0))
    before = target_logits(family, model, x, y)
    changed = y.clone()
    changed[:, 2] = (changed[:, 2] + 1) % 10  # the third answer digit
    after = target_logits(family, model, x, changed)
    assert before.shape == (3, 5, 12)
    torch.testing.assert_close(after[:, :3], before[:, :3])  # predictions of digits 1..3 unchanged
    assert not torch.allclose(after[:, 3:], before[:, 3:])


@pytest.mark.module("0.5")
def test_encoder_family_sees_the_whole_input():
    torch.manual_seed(0)
    model = build("encoder", config(16)).eval()
    x, y = reversal_batch(2, 6, torch.Generator().manual_seed(1))
    changed = x.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 10
    assert not torch.allclose(target_logits("encoder", model, changed, y)[:, 0], model(x)[:, 0])
    with pytest.raises(ValueError, match="family"):
        build("decoder-only", config(16))


@pytest.mark.module("0.5")
@pytest.mark.parametrize("pos", POSITIONS)
def test_every_position_encoding_trains_on_reversal(pos):
    _, losses, curve = train("decoder", config(32, pos), steps=60, seed=0, eval_every=60)
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10  # at least the digits' frequencies are learned
    assert len(curve) == 1 and 0.0 <= curve[0][1] <= 1.0


@pytest.mark.module("0.5")
def test_exact_match_of_a_model_that_reverses_is_one():
    class Oracle(torch.nn.Module):
        def forward(self, x):  # the encoder family's interface: (B, L) -> (B, L, vocab)
            return torch.nn.functional.one_hot(x.flip(1), 12).float()

    assert exact_match("encoder", Oracle(), 7) == 1.0
    assert set(FAMILIES) == {"encoder", "decoder", "encoder-decoder"}


@pytest.mark.module("0.7")
def test_bpe_tokens_spell_the_validation_text_and_bits_per_char_of_a_uniform_model():
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 40
    train_text, val_text = split_text(text)
    train_ids, val_ids, vocab, token_chars = bpe_side(train_text, val_text, 256 + 30)[:4]
    assert vocab == 286 and int(token_chars[val_ids].sum()) == len(val_text)  # lossless, ASCII
    assert len(val_ids) < len(val_text)  # merges were learned and used

    class Uniform(torch.nn.Module):
        def forward(self, x):
            return torch.zeros(*x.shape, vocab)

    ids = torch.cat([train_ids, val_ids])[: 64 * 3 + 1]
    bpc, nats = bits_per_char(Uniform(), ids, token_chars)
    targets = ids[1:]
    assert nats == pytest.approx(math.log(vocab), rel=1e-6)
    expected = len(targets) * math.log2(vocab) / int(token_chars[targets].sum())
    assert bpc == pytest.approx(expected, rel=1e-6)


@pytest.mark.module("0.7")
def test_the_study_gpt_loop_learns():
    ids = torch.tensor([i % 7 for i in range(3000)])
    model, losses = train_gpt(ids, 7, steps=40)
    assert losses[-1] < 0.5 * losses[0] and not model.training


@pytest.mark.module("0.8")
def test_studies_runner_refuses_steps_for_a_study_without_them(capsys):
    from groundup.train.studies.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["tasks", "--out", "unused", "--steps", "5"])
    assert exit_info.value.code == 2 and "has no --steps" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["seq2seq", "--out", "unused", "--steps", "0"])
