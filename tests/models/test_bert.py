"""BERT (0.10 paper implementation, 0.5 encoder-only): our model against transformers' BertModel on the
real all-MiniLM-L6-v2, sentence embeddings against sentence-transformers, the pretraining and
classification heads against transformers on a tiny config, and the bad-input errors."""

from __future__ import annotations

import json

import pytest
import torch

from groundup.data import minilm_dir
from groundup.errors import GroundupError
from groundup.models.bert import (
    Bert,
    BertClassifier,
    BertForPreTraining,
    attention_maps,
    bert_config,
    encode_texts,
    keep_layers,
    mean_pool,
)

pytestmark = pytest.mark.module("0.10")

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on stage.",
    "Héllo, wörld! Accents and CJK 東京 and emoji 😀 get normalised.",
    "Short.",
    "BERT reads every token at once; GPT reads left to right, one token after another, so its "
    "attention is causal while BERT's is bidirectional.",
    "don't stop believing",
]


@pytest.fixture(scope="module")
def minilm() -> Bert:
    return Bert.from_pretrained(minilm_dir())


@pytest.fixture(scope="module")
def hf_minilm():
    transformers = pytest.importorskip("transformers")
    return transformers.BertModel.from_pretrained(str(minilm_dir()), attn_implementation="eager").eval()


@pytest.fixture(scope="module")
def batch(minilm):
    return encode_texts(minilm.tokenizer, SENTENCES, 256)


def test_every_hidden_state_equals_transformers(minilm, hf_minilm, batch):
    with torch.no_grad():
        ours = minilm(batch.input_ids, batch.attention_mask, batch.token_type_ids, output_hidden_states=True)
        theirs = hf_minilm(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            token_type_ids=batch.token_type_ids,
            output_hidden_states=True,
        )
    real = batch.attention_mask.bool()  # padding rows are not compared: their values mean nothing
    assert len(ours.hidden_states) == len(theirs.hidden_states) == 7
    for mine, ref in zip(ours.hidden_states, theirs.hidden_states):
        torch.testing.assert_close(mine[real], ref[real], atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.pooled, theirs.pooler_output, atol=1e-5, rtol=0)


def test_attention_maps_equal_transformers(minilm, hf_minilm, batch):
    ours = attention_maps(minilm, batch.input_ids, batch.attention_mask)  # (L, B, H, T, T)
    with torch.no_grad():
        theirs = hf_minilm(
            input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_attentions=True
        ).attentions
    real = batch.attention_mask.bool()
    for layer, ref in enumerate(theirs):
        for row in range(len(SENTENCES)):
            n = int(real[row].sum())
            torch.testing.assert_close(ours[layer, row, :, :n, :n], ref[row, :, :n, :n], atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.sum(-1), torch.ones_like(ours.sum(-1)))


def test_sentence_embeddings_equal_sentence_transformers(minilm):
    st = pytest.importorskip("sentence_transformers")
    reference = st.SentenceTransformer(str(minilm_dir()), device="cpu")
    theirs = torch.from_numpy(reference.encode(SENTENCES, batch_size=4))
    ours = minilm.embed(SENTENCES, batch_size=4)  # our WordPiece, our model, our pooling
    assert ours.shape == (len(SENTENCES), 384)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.norm(dim=-1), torch.ones(len(SENTENCES)))
    assert minilm.max_length == reference.max_seq_length == 256


def test_embed_is_independent_of_batching_and_order(minilm):
    one = minilm.embed(SENTENCES, batch_size=1)
    many = minilm.embed(SENTENCES[::-1], batch_size=32).flip(0)
    torch.testing.assert_close(one, many, atol=1e-5, rtol=0)


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    assert mean_pool(hidden, torch.tensor([[1, 1, 0]])).tolist() == [[2.0, 3.0]]


def test_truncation_is_reported_or_refused(minilm):
    long = "word " * 600
    batch = encode_texts(minilm.tokenizer, ["short", long], 256)
    assert batch.truncated == [1] and batch.input_ids.shape == (2, 256)
    assert batch.input_ids[1, -1] == minilm.tokenizer.special_tokens["[SEP]"]
    with pytest.raises(GroundupError, match="over the maximum length 256"):
        encode_texts(minilm.tokenizer, ["short", long], 256, truncate=False)
    assert minilm.embed([long]).shape == (1, 384)


def test_folder_that_is_not_bert_is_named(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]})
    )
    with pytest.raises(GroundupError, match="model_type 'llama'.*LlamaForCausalLM"):
        Bert.from_pretrained(tmp_path)
    (tmp_path / "config.json").unlink()
    (tmp_path / "model.gguf").write_text("x")
    with pytest.raises(GroundupError, match="no config.json.*model.gguf"):
        Bert.from_pretrained(tmp_path)
    with pytest.raises(GroundupError, match="not a folder"):
        Bert.from_pretrained(tmp_path / "model.gguf")


def test_keep_all_layers_is_the_same_model(minilm, batch):
    copy = keep_layers(minilm, list(range(6))).eval()
    with torch.no_grad():
        a = minilm(batch.input_ids, batch.attention_mask).last_hidden_state
        b = copy(batch.input_ids, batch.attention_mask).last_hidden_state
    assert torch.equal(a, b)
    assert keep_layers(minilm, [2, 5]).cfg.n_layer == 2
    with pytest.raises(ValueError, match="layers"):
        keep_layers(minilm, [6])


# ---- heads on a tiny config, against transformers with the same weights ----------------------------


@pytest.fixture(scope="module")
def tiny_hf_config():
    transformers = pytest.importorskip("transformers")
    return transformers.BertConfig(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
        max_position_embeddings=40, layer_norm_eps=1e-12, num_labels=3, attn_implementation="eager",
    )  # fmt: skip


def tiny_inputs():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 99, (3, 12), generator=g)
    mask = torch.ones(3, 12, dtype=torch.long)
    mask[1, 8:] = 0
    types = torch.zeros(3, 12, dtype=torch.long)
    types[:, 6:] = 1
    return ids, mask, types


def test_pretraining_heads_equal_transformers(tiny_hf_config):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    ref = transformers.BertForPreTraining(tiny_hf_config).eval()
    ours = BertForPreTraining(
        bert_config(vocab_size=99, block_size=40, n_layer=2, n_head=4, n_embd=32)
    ).eval()
    ours.load_hf_state_dict(ref.state_dict())
    assert ours.mlm.decoder.weight is ours.bert.embeddings.wte.weight  # tied, as in the paper
    ids, mask, types = tiny_inputs()
    with torch.no_grad():
        mlm, nsp = ours(ids, mask, types)
        out = ref(input_ids=ids, attention_mask=mask, token_type_ids=types)
    real = mask.bool()
    torch.testing.assert_close(mlm[real], out.prediction_logits[real], atol=1e-5, rtol=0)
    torch.testing.assert_close(nsp, out.seq_relationship_logits, atol=1e-5, rtol=0)


def test_sequence_classifier_equals_transformers(tiny_hf_config):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    ref = transformers.BertForSequenceClassification(tiny_hf_config).eval()
    bert = Bert(bert_config(vocab_size=99, block_size=40, n_layer=2, n_head=4, n_embd=32))
    ours = BertClassifier(bert, 3).eval()
    state = ref.state_dict()
    bert.load_hf_state_dict(state)
    ours.head.load_state_dict({"weight": state["classifier.weight"], "bias": state["classifier.bias"]})
    ids, mask, types = tiny_inputs()
    with torch.no_grad():
        torch.testing.assert_close(
            ours(ids, mask, types), ref(input_ids=ids, attention_mask=mask, token_type_ids=types).logits,
            atol=1e-5, rtol=0,
        )  # fmt: skip
    with pytest.raises(ValueError, match="pooling"):
        BertClassifier(bert, 3, pooling="max")


def test_classifier_gradients_reach_every_layer():
    bert = Bert(bert_config(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=16))
    model = BertClassifier(bert, 2, pooling="mean").train()
    ids, mask, _ = (t[:, :10] for t in tiny_inputs())
    loss = torch.nn.functional.cross_entropy(model(ids % 50, mask), torch.tensor([0, 1, 0]))
    loss.backward()
    assert all(
        p.grad is not None and p.grad.abs().sum() > 0
        for n, p in model.named_parameters()
        if "pooler" not in n
    )
