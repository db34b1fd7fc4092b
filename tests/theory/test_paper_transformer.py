"""Transformer (Vaswani et al. 2017): the warmup schedule, label smoothing and BLEU against their references,
the cipher task's determinism and invertibility, the study end to end; (slow) the model learns the task."""

from __future__ import annotations

import json
import math
import random

import pytest
import sacrebleu
import torch
import torch.nn.functional as F

from groundup.nlp.metrics import corpus_bleu
from groundup.theory.papers.transformer import (
    Variant,
    baselines,
    label_smoothed_loss,
    noam_lr,
    train_translation,
    transformer_study,
    translate_all,
)
from groundup.theory.papers.translation_task import (
    UNK,
    Cipher,
    build_task,
    length_batches,
    pseudo_words,
    reorder,
    translate,
    untranslate,
)

pytestmark = pytest.mark.module("0.10")

TINY = (
    Variant(d_model=16, n_layer=1, warmup=20),
    Variant("no positions", d_model=16, n_layer=1, warmup=20, pos="none"),
)


@pytest.fixture(scope="module")
def task():
    return build_task()


def test_noam_lr_is_the_papers_formula():
    d, w = 512, 4000
    for step in (1, 10, 3999, 4000, 4001, 100_000):
        expected = d**-0.5 * min(step**-0.5, step * w**-1.5)
        assert noam_lr(step, d, w) == pytest.approx(expected, rel=1e-12)
    assert noam_lr(4000, d, w) == pytest.approx(1 / math.sqrt(512 * 4000))  # the peak, at step = warmup
    assert noam_lr(2000, d, w) == pytest.approx(noam_lr(4000, d, w) / 2)  # linear before it
    assert noam_lr(16000, d, w) == pytest.approx(noam_lr(4000, d, w) / 2)  # 1/sqrt(step) after it
    assert noam_lr(10, 64, 40, factor=0.5) == pytest.approx(0.5 * noam_lr(10, 64, 40))
    with pytest.raises(ValueError, match="step"):
        noam_lr(0, d, w)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_label_smoothed_loss_equals_torch_cross_entropy(eps):
    torch.manual_seed(0)
    logits, target = torch.randn(50, 37, dtype=torch.float64), torch.randint(0, 37, (50,))
    torch.testing.assert_close(
        label_smoothed_loss(logits, target, eps), F.cross_entropy(logits, target, label_smoothing=eps)
    )


def test_reorder_reverses_each_clause_and_is_its_own_inverse():
    words = "He later played college football , then coached ; it rained .".split()
    assert reorder(words) == "football college played later He , coached then ; rained it .".split()
    assert reorder(reorder(words)) == words


def test_pseudo_words_are_seeded_and_the_same_in_every_process():
    # fixed values: string hashing is randomized per process, so the list must not depend on it
    assert pseudo_words(3, 0) == pseudo_words(3, 0)
    assert pseudo_words(3, 0) == ["vobipo", "vinire", "fifaripu"]
    assert len(set(pseudo_words(3000, 1))) == 3000 and pseudo_words(5, 1) != pseudo_words(5, 0)


def test_task_is_deterministic_invertible_and_a_function_of_the_source(task):
    again = build_task()
    assert again.train == task.train and again.test == task.test and again.cipher == task.cipher
    assert len(task.train) > 2000 and len(task.test) > 200
    seen = {}
    for src, tgt in task.train + task.test:
        assert 4 <= len(src) <= 16 and len(tgt) == len(src)
        assert translate(src, task.cipher) == tgt and untranslate(tgt, task.cipher) == src
        for s, t in zip(reorder(src), tgt, strict=True):  # one word, one pseudo-word, always
            assert seen.setdefault(s, t) == t
    assert len(set(seen.values())) == len(seen)  # a bijection on what occurs
    assert all(w in task.tgt_vocab for _, t in task.test for w in t)


def test_cipher_round_trip_and_length_batches_have_one_length(task):
    cipher = Cipher.make(["the", "cat", ","], seed=3)
    assert cipher.decode(cipher.encode(["the", ",", "cat", UNK])) == ["the", ",", "cat", UNK]
    batches = length_batches(task, task.train, 64, torch.Generator().manual_seed(0))
    assert sum(len(s) for s, _ in batches) == len(task.train)
    assert all(s.shape == t.shape and s.shape[0] <= 64 for s, t in batches)
    assert [s.tolist() for s, _ in batches] == [
        s.tolist() for s, _ in length_batches(task, task.train, 64, torch.Generator().manual_seed(0))
    ]


def test_our_bleu_equals_sacrebleu_on_model_outputs(task):
    small = type(task)(task.src_vocab, task.tgt_vocab, task.cipher, task.train[:150], task.test[:40])
    torch.set_num_threads(1)
    model, _ = train_translation(small, TINY[0], epochs=1, seed=0, evals=1)
    hyps = translate_all(model, small, small.test)
    refs = [" ".join(t) for _, t in small.test]
    rng = random.Random(0)  # and partly right outputs: references with words dropped and swapped
    noisy = [" ".join(w for w in r.split() if rng.random() > 0.3) for r in refs]
    for outputs in (hyps, noisy, refs):
        ours, theirs = corpus_bleu(outputs, [refs]), sacrebleu.corpus_bleu(outputs, [refs])
        assert ours.score == pytest.approx(theirs.score, abs=1e-9)
    assert corpus_bleu(refs, [refs]).score == pytest.approx(100.0)


def test_study_runs_end_to_end_and_writes_its_report(tmp_path):
    torch.set_num_threads(1)
    report = transformer_study(
        tmp_path, epochs=1, seeds=1, variants=TINY, train_sentences=100, test_sentences=30
    )
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["summary"]) == {"base", "no positions"} and (tmp_path / "transformer.png").exists()
    assert "BLEU" in report.read_text() and 0 <= results["summary"]["base"]["bleu_mean"] <= 100
    assert results["baselines"]["dictionary, source order"] > results["baselines"]["copy source"]


@pytest.mark.slow
def test_transformer_learns_the_cipher_task_and_needs_positions(task):
    # reduced scale: 15 of the study's 30 epochs, seed 0 (the study's run up to its second checkpoint);
    # the full run is `groundup theory paper transformer` (docs/notes/0.10-papers/transformer.md)
    torch.set_num_threads(1)
    runs = {
        v.pos: train_translation(task, v, epochs=15, seed=0, evals=1)[1]
        for v in (Variant(), Variant(pos="none"))
    }
    bleu = {pos: r["checkpoints"][-1]["bleu"] for pos, r in runs.items()}
    copy = baselines(task)["copy source"]
    assert bleu["sinusoidal"] > 35 and bleu["sinusoidal"] > copy + 10, (bleu, copy)
    assert bleu["sinusoidal"] > bleu["none"] + 5, bleu
