"""Sentence classification (0.5 step 4): the fine-tuning loop, the schedule, and accuracy with its
Wilson interval; a tiny BERT learns a separable toy task."""

from __future__ import annotations

import math

import pytest
import torch

from groundup.models.bert import Bert, BertClassifier, bert_config
from groundup.nlp.datasets import LabelledTexts
from groundup.train.text_classifier import (
    FinetuneConfig,
    accuracy,
    finetune,
    linear_warmup_decay,
    predict_logits,
    wilson_interval,
)

pytestmark = pytest.mark.module("0.5")


def test_wilson_interval_known_values():
    # Wilson (1927) / Newcombe (1998) table: 81 of 263 -> (0.2553, 0.3662)
    low, high = wilson_interval(81, 263)
    assert low == pytest.approx(0.2553, abs=1e-4) and high == pytest.approx(0.3662, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)
    p, n = 0.8, 10_000  # large n: close to the normal approximation
    low, high = wilson_interval(int(p * n), n)
    assert high - low == pytest.approx(2 * 1.96 * math.sqrt(p * (1 - p) / n), rel=1e-3)
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


def test_schedule_warms_up_then_decays_to_zero():
    lrs = [linear_warmup_decay(s, 100, 0.1) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == 1.0 and max(lrs) == 1.0
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:])) and lrs[-1] == pytest.approx(1 / 90)
    with pytest.raises(ValueError, match="warmup"):
        FinetuneConfig(warmup=1.0)


class Encoding(list):
    """Ids with their (all-zero) token types, as WordPiece's encodings carry them."""

    @property
    def ids(self):
        return list(self)

    @property
    def type_ids(self):
        return [0] * len(self)


class CharTokenizer:
    """A WordPiece stand-in: one id per lowercase letter, [PAD]=0, [CLS]=1, [SEP]=2."""

    special_tokens = {"[PAD]": 0, "[CLS]": 1, "[SEP]": 2}

    def encode_batch(self, texts, max_length=None):
        out = []
        for t in texts:
            ids = [1] + [3 + ord(c) - ord("a") for c in t if c.isalpha()] + [2]
            out.append(Encoding(ids if max_length is None else ids[: max_length - 1] + [2]))
        return out


def test_tiny_bert_learns_a_separable_task():
    g = torch.Generator().manual_seed(0)
    texts, labels = [], []
    for _ in range(256):
        label = int(torch.randint(2, (1,), generator=g))
        letters = "abcdefg" if label == 0 else "tuvwxyz"
        idx = torch.randint(len(letters), (6,), generator=g)
        texts.append(" ".join(letters[i] for i in idx))
        labels.append(label)
    data = LabelledTexts(texts, labels, ("low", "high"), "synthetic letters")
    torch.manual_seed(0)
    cfg = bert_config(vocab_size=30, block_size=16, n_layer=1, n_head=2, n_embd=32, dropout=0.0)
    model = BertClassifier(Bert(cfg), 2, pooling="mean")
    cfg = FinetuneConfig(epochs=3, lr=3e-3, batch_size=32, max_length=16)
    losses = finetune(model, CharTokenizer(), data, cfg)
    assert not model.training and len(losses) == 24
    acc = accuracy(predict_logits(model, CharTokenizer(), texts, max_length=16), labels)
    assert acc.value > 0.95 and acc.low < acc.value <= acc.high and "95% CI" in str(acc)
