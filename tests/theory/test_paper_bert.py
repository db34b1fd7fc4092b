"""BERT paper study: the same-article task, the article split, the cut vocabulary, the study end to end on
a tiny budget, and (slow) what holds at reduced scale: MLM learns beyond piece frequencies while NSP
stays at chance (the paper's transfer claim does not reproduce at our budget; see the page)."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest
import torch

from groundup.models.bert import BertForPreTraining, bert_config
from groundup.theory.papers.bert import (
    BertStudyConfig,
    bert_study,
    build_task,
    corpus_vocabulary,
    pretrain,
    same_article_pairs,
    split_articles,
    word_order_pairs,
)
from groundup.tokenizers.wordpiece import WordPiece
from groundup.train.text_classifier import FinetuneConfig

pytestmark = pytest.mark.module("0.10")

DOCS = [[f"a{d} s{i} words here ." for i in range(30)] for d in range(8)]


def source(sentence: str) -> tuple[int, int]:
    article, index = sentence.split()[:2]
    return int(article[1:]), int(index[1:])


def test_same_article_pairs_are_deterministic_balanced_and_labelled_right():
    pairs = same_article_pairs(DOCS, 200, gap=10, seed=3)
    assert pairs.texts == same_article_pairs(DOCS, 200, gap=10, seed=3).texts
    assert pairs.texts != same_article_pairs(DOCS, 200, gap=10, seed=4).texts
    assert sum(pairs.labels) == 100
    for (a, b), label in zip(pairs.texts, pairs.labels, strict=True):
        (da, ia), (db, ib) = source(a), source(b)
        if label:
            assert da == db and abs(ia - ib) >= 10  # never the next sentence: not NSP's positive
        else:
            assert da != db
    with pytest.raises(ValueError, match="gap"):
        same_article_pairs(DOCS, 10, gap=30, seed=0)


def test_word_order_pairs_swap_neighbouring_words_of_b_only_in_positives():
    docs = [[f"a{d} s{i} w1 w2 w3 w4 w5 ." for i in range(6)] for d in range(3)]
    pairs = word_order_pairs(docs, 100, swaps=2, seed=0)
    assert pairs.texts == word_order_pairs(docs, 100, swaps=2, seed=0).texts and sum(pairs.labels) == 50
    for (a, b), label in zip(pairs.texts, pairs.labels, strict=True):
        (da, ia) = source(a)
        original = docs[da][ia + 1].split()
        assert sorted(b.split()) == sorted(original) and b.split()[-1] == "."  # same words, same end
        assert (b.split() != original) == bool(label)


def test_article_split_holds_the_task_test_articles_out_of_everything_else():
    split = split_articles(122, 0.2, seed=0)
    assert split == split_articles(122, 0.2, seed=0)
    test, train, pre = set(split.task_test), set(split.task_train), set(split.pretrain)
    assert len(test) == len(train) == 24
    assert not test & pre and not test & train and train <= pre
    assert test | pre == set(range(122))
    with pytest.raises(ValueError, match="too few"):
        split_articles(4, 0.4, seed=0)
    for bad in (dict(tasks=("nli",)), dict(pooling="max"), dict(task_fraction=0.5)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            BertStudyConfig(**bad)


def test_cut_vocabulary_keeps_specials_and_characters_and_spells_the_corpus_without_unk():
    base = WordPiece(
        {
            t: i
            for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s", "sat"])
        }
        | {c: 9 + i for i, c in enumerate("thecasz")}
        | {"##" + c: 16 + i for i, c in enumerate("thecasz")}
    )
    texts = ["the cats sat", "the cat", "the the"]
    tok = corpus_vocabulary(base, texts, 5 + 12 + 1)  # specials, 6 characters x 2, then "the"
    assert tok.vocab_size == 18 and "the" in tok.vocab and "cat" not in tok.vocab and "z" not in tok.vocab
    assert tok.tokenize("the cats") == ["the", "c", "##a", "##t", "##s"]
    assert base.tokenize("the cats") == ["the", "cat", "##s"]
    with pytest.raises(ValueError, match="size"):
        corpus_vocabulary(base, texts, 8)


def tiny_config(**kw) -> BertStudyConfig:
    ft = FinetuneConfig(epochs=1, lr=1e-3, batch_size=8, max_length=32)
    base = dict(n_layer=1, n_embd=16, n_head=2, max_length=32, vocab_size=600, pretrain_steps=3)
    return BertStudyConfig(**(base | dict(pretrain_batch=4, train_pairs=16, test_pairs=16, finetune=ft) | kw))


def test_task_from_wikitext_is_article_disjoint_and_uses_the_cut_vocabulary(data_dir):
    docs, split, tasks, pairs, tok = build_task(tiny_config(), seed=0)
    (train, test), (_, order_test) = tasks["same article"], tasks["word order"]
    assert len(docs) > 100 and tok.vocab_size == 600
    train_sentences = {s for i in split.pretrain for s in docs[i]}
    test_sentences = {s for pair in test.texts for s in pair}
    assert not test_sentences & train_sentences  # no test sentence was seen in pretraining
    assert not test_sentences & {s for pair in train.texts for s in pair}
    assert not {a for a, _ in order_test.texts} & train_sentences
    assert all(a in train_sentences for a, _, _ in pairs)


def test_study_runs_end_to_end_and_writes_its_report(data_dir, tmp_path):
    report = bert_study(tmp_path, seed=0, cfg=tiny_config(seeds=1))
    results = json.loads((tmp_path / "results.json").read_text())
    models = [r["model"] for r in results["results"]]
    assert models == ["from scratch", "pretrained MLM + NSP", "pretrained MLM only"] * 2
    assert all(0 <= r["low"] <= r["accuracy"] <= r["high"] <= 1 for r in results["results"])
    assert (tmp_path / "bert.png").stat().st_size > 0 and "*word order*" in report.read_text()


def test_pretraining_heads_see_only_the_chosen_positions():
    """Scoring only the chosen positions gives the same MLM loss as scoring every position."""
    from groundup.train.bert_pretraining import IGNORE, pretraining_loss

    torch.manual_seed(0)
    model = BertForPreTraining(
        bert_config(vocab_size=50, block_size=12, n_layer=1, n_head=2, n_embd=16)
    ).eval()
    ids = torch.randint(5, 50, (3, 12))
    labels = torch.full((3, 12), IGNORE)
    labels[0, 2], labels[1, 5], labels[2, 7] = 7, 8, 9
    full, _ = model(ids)
    hidden = model.bert(ids).last_hidden_state
    chosen = labels != IGNORE
    gathered = torch.nn.functional.cross_entropy(model.mlm(hidden[chosen]), labels[chosen])
    torch.testing.assert_close(gathered, pretraining_loss(full, labels))


@pytest.mark.slow
def test_mlm_learns_beyond_piece_frequencies_while_nsp_stays_at_chance(data_dir):
    """What holds at reduced scale. The paper's transfer claim does not reproduce at our budget
    (docs/notes/0.10-papers/bert.md: every fine-tuned model at chance, also with mean pooling); what does
    is the reason: 800 steps of MLM + NSP pretraining take the MLM loss below the entropy of the pieces'
    own frequencies (context is used), while NSP stays at ln 2, so the [CLS] state carries nothing."""
    cfg = BertStudyConfig(pretrain_steps=800, tasks=())
    docs, split, _, pairs, tok = build_task(cfg, seed=0)
    counts = Counter(t for i in split.pretrain for s in docs[i] for t in tok.tokenize(s))
    n = sum(counts.values())
    entropy = -sum(c / n * math.log(c / n) for c in counts.values())  # ~6.17 nats
    torch.manual_seed(0)
    model = BertForPreTraining(
        bert_config(vocab_size=tok.vocab_size, block_size=64, n_layer=2, n_head=2, n_embd=64)
    )
    losses = pretrain(model, tok, pairs, cfg, nsp=True, seed=0)
    mlm, nsp = (sum(v[-100:]) / 100 for v in (losses["mlm"], losses["nsp"]))
    assert mlm < entropy - 0.1, (mlm, entropy)
    assert abs(nsp - math.log(2)) < 0.01, nsp
