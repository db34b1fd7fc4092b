"""BERT's pretraining objectives (0.10): MLM masking statistics over many draws, next-sentence pairs,
and (slow) a small MLM + NSP pretraining run on WikiText-2 whose loss falls."""

from __future__ import annotations

import pytest
import torch

from groundup.models.bert import BertForPreTraining, bert_config
from groundup.train.bert_pretraining import IGNORE, mask_tokens, nsp_pairs, pretrain, pretraining_loss

pytestmark = pytest.mark.module("0.10")

MASK, VOCAB = 3, 1000


def draw(rows: int = 4000, width: int = 40, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(10, VOCAB, (rows, width), generator=g)
    eligible = torch.ones(rows, width, dtype=torch.bool)
    eligible[:, 0] = eligible[:, -1] = False  # [CLS] ... [SEP]
    eligible[: rows // 2, 30:] = False  # half the rows padded after 30 tokens
    inputs, labels = mask_tokens(ids, eligible, mask_id=MASK, vocab_size=VOCAB, generator=g)
    return ids, eligible, inputs, labels


def test_fifteen_percent_of_real_tokens_are_chosen_exactly():
    ids, eligible, _, labels = draw()
    chosen = labels != IGNORE
    n = eligible.sum(1)
    assert torch.equal(chosen.sum(1), (n.double() * 0.15).round().long())  # per row, not on average
    assert not (chosen & ~eligible).any()  # never [CLS], [SEP] or padding
    assert torch.equal(labels[chosen], ids[chosen])  # labels are the original tokens


def test_eighty_ten_ten_over_many_draws():
    ids, _, inputs, labels = draw()
    chosen = labels != IGNORE
    total = int(chosen.sum())  # ~ 19,000 chosen positions
    masked = (inputs == MASK) & chosen
    kept = (inputs == ids) & chosen
    replaced = chosen & ~masked & ~kept
    # binomial standard errors at n ~ 19k: 0.3% for 80%, 0.22% for 10%; 5 sigma bounds
    for observed, expected, se in ((masked, 0.8, 0.0029), (replaced, 0.1, 0.0022), (kept, 0.1, 0.0022)):
        assert abs(int(observed.sum()) / total - expected) < 5 * se
    assert torch.equal(inputs[~chosen], ids[~chosen])  # nothing else changes
    # random replacements are uniform over the vocabulary: mean id near (VOCAB - 1) / 2
    assert abs(inputs[replaced].double().mean().item() - (VOCAB - 1) / 2) < 20


def test_rows_with_few_tokens_still_get_one_and_empty_rows_none():
    ids = torch.arange(12).reshape(3, 4)
    eligible = torch.tensor([[False, True, False, False], [False] * 4, [True] * 4])
    _, labels = mask_tokens(ids, eligible, mask_id=MASK, vocab_size=VOCAB)
    assert (labels != IGNORE).sum(1).tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match="prob"):
        mask_tokens(ids, eligible, mask_id=MASK, vocab_size=VOCAB, prob=1.5)


def test_next_sentence_pairs_are_half_next_half_random():
    documents = [[f"d{d} s{i}" for i in range(50)] for d in range(40)]
    pairs = nsp_pairs(documents, seed=0)
    assert len(pairs) == 40 * 49
    is_next = [(a, b) for a, b, label in pairs if label == 0]
    assert abs(len(is_next) / len(pairs) - 0.5) < 0.05
    for a, b, label in pairs:
        same_doc = a.split()[0] == b.split()[0]
        assert same_doc if label == 0 else not same_doc
        if label == 0:
            assert int(b.split()[1][1:]) == int(a.split()[1][1:]) + 1
    with pytest.raises(ValueError, match="two non-empty"):
        nsp_pairs([["only one document"]])


def test_loss_ignores_unchosen_positions():
    logits = torch.randn(2, 5, 7)
    labels = torch.full((2, 5), IGNORE)
    labels[0, 1], labels[1, 3] = 4, 2
    expected = torch.nn.functional.cross_entropy(logits[[0, 1], [1, 3]], torch.tensor([4, 2]))
    torch.testing.assert_close(pretraining_loss(logits, labels), expected)


@pytest.mark.slow
def test_small_mlm_pretraining_on_wikitext_loss_falls(data_dir):
    """A 2-layer, 128-wide BERT pretrained from scratch for 100 steps (batch 8, 64 tokens) on WikiText-2
    (MLM + NSP) with MiniLM's WordPiece vocabulary: the MLM + NSP loss falls well below its start (ln 30522 + ln 2)."""
    from groundup.data import load_text, minilm_dir
    from groundup.models.bert import encode_texts
    from groundup.nlp.clean import sentences, wikitext_articles
    from groundup.tokenizers.wordpiece import WordPiece

    tok = WordPiece.from_pretrained(minilm_dir())
    docs = [sentences(a)[:40] for a in wikitext_articles(load_text("wikitext2", "valid"))]
    pairs = nsp_pairs([d for d in docs if d], seed=0)
    torch.manual_seed(0)
    model = BertForPreTraining(
        bert_config(vocab_size=tok.vocab_size, block_size=128, n_layer=2, n_head=2, n_embd=128)
    )
    specials = torch.tensor(sorted(tok.special_tokens.values()))
    g = torch.Generator().manual_seed(0)

    def batches(step):
        rows = [pairs[(step * 8 + i) % len(pairs)] for i in range(8)]
        b = encode_texts(tok, [(a, b) for a, b, _ in rows], 64)
        eligible = b.attention_mask.bool() & ~torch.isin(b.input_ids, specials)
        inputs, labels = mask_tokens(
            b.input_ids,
            eligible,
            mask_id=tok.special_tokens["[MASK]"],
            vocab_size=tok.vocab_size,
            generator=g,
        )
        return inputs, b.attention_mask, b.token_type_ids, labels, torch.tensor([label for *_, label in rows])

    losses = pretrain(model, batches, 100, lr=1e-3)
    start, end = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert start > 9.5 and end < start - 2.5, (start, end)
