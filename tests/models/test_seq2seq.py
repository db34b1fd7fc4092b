"""The RNN encoder-decoder with attention (0.4): the two scores against their formulas and torch's
attention, padding never attended, decoding equals teacher forcing on its own outputs, and a short
run learns the date translation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from groundup.models.seq2seq import (
    AdditiveAttention,
    MultiplicativeAttention,
    Seq2Seq,
    Seq2SeqConfig,
)

pytestmark = pytest.mark.module("0.4")


def test_luong_general_attention_equals_torch_scaled_dot_product_with_the_bilinear_keys():
    torch.manual_seed(0)
    attn = MultiplicativeAttention(6, 10)
    query, memory = torch.randn(3, 6), torch.randn(3, 5, 10)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    context, weights = attn(query, attn.keys(memory), memory, mask)
    # score = q^T W m: SDPA with q, keys W m, scale 1 and the padding mask, values = memory
    expected = F.scaled_dot_product_attention(
        query[:, None], attn.w(memory), memory, attn_mask=mask[:, None], scale=1.0
    )[:, 0]
    torch.testing.assert_close(context, expected, atol=1e-6, rtol=1e-5)
    assert torch.all(weights[~mask] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3))


def test_bahdanau_additive_score_equals_its_formula():
    torch.manual_seed(1)
    attn = AdditiveAttention(4, 8, 5)
    query, memory = torch.randn(2, 4), torch.randn(2, 3, 8)
    context, weights = attn(query, attn.keys(memory), memory)
    W_q, W_m, b_m, v = attn.w_query.weight, attn.w_memory.weight, attn.w_memory.bias, attn.v.weight[0]
    for b in range(2):
        scores = torch.stack([v @ torch.tanh(W_q @ query[b] + W_m @ memory[b, j] + b_m) for j in range(3)])
        torch.testing.assert_close(weights[b], scores.softmax(0), atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(context[b], weights[b] @ memory[b], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("attention", ["bahdanau", "luong", "none"])
@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_greedy_decoding_equals_teacher_forcing_on_its_own_output(attention, kind):
    torch.manual_seed(2)
    model = Seq2Seq(Seq2SeqConfig(9, 7, n_embd=8, n_hidden=12, attention=attention, kind=kind)).eval()
    src = torch.randint(3, 9, (2, 6))
    mask = torch.tensor([[True] * 6, [True] * 3 + [False] * 3])
    tokens, weights = model.greedy(src, mask, length=5, bos=1)
    tgt_in = torch.cat([torch.ones(2, 1, dtype=torch.long), tokens[:, :-1]], dim=1)
    with torch.no_grad():
        logits, forced = model(src, mask, tgt_in)
    assert torch.equal(logits.argmax(-1), tokens)
    torch.testing.assert_close(forced, weights)
    if attention != "none":
        assert torch.all(weights[1, :, 3:] == 0)  # padding gets no attention
        # and changing the padding changes nothing
        other = src.clone()
        other[1, 3:] = 4
        torch.testing.assert_close(model.greedy(other, mask, 5, 1)[1][1], weights[1])


def test_config_rejects_unknown_attention():
    with pytest.raises(ValueError, match="attention must be one of"):
        Seq2SeqConfig(5, 5, attention="cosine")


def test_date_pairs_reader_and_a_short_run_learns(tmp_path):
    from groundup.train.studies.seq2seq_dates import exact_match, make_data, train_model, translate
    from groundup.train.studies.seq_data import read_parallel

    path = tmp_path / "fra.txt"
    path.write_text("Go.\tVa !\tCC-BY 2.0 (France)\nHi.\tSalut !\tCC-BY\n\n")
    assert read_parallel(path) == [("Go.", "Va !"), ("Hi.", "Salut !")]
    path.write_text("no tab here\n")
    with pytest.raises(Exception, match="source<TAB>target"):
        read_parallel(path)

    torch.set_num_threads(1)
    train, test, src_vocab, tgt_vocab = make_data(2000, 100, seed=0)
    assert not {s for s, _ in test} & {s for s, _ in train}
    model, losses = train_model("luong", train, src_vocab, tgt_vocab, steps=40, batch_size=32)
    assert losses[-1] < 0.6 * losses[0]
    outputs, weights = translate(model, test[:20], src_vocab, tgt_vocab)
    assert len(outputs) == 20 and 0.0 <= exact_match(outputs, test[:20]) <= 1.0
    assert weights[0].shape[1] == len(test[0][0])
