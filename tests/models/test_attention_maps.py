"""Attention weights returned (0.5): the recording backend equals torch.nn.MultiheadAttention's
per-head weights, leaves every model's output unchanged, and `groundup viz attention` writes the grids."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from groundup.models.attention_maps import AttentionProbe, attention_maps, write_attention_report
from groundup.models.gpt import GPT, GPTConfig
from groundup.models.layers import Attention, NoCache

pytestmark = pytest.mark.module("0.5")


def attention_from_mha(mha: nn.MultiheadAttention) -> Attention:
    dim, heads = mha.embed_dim, mha.num_heads
    ours = Attention(dim, heads, bias=True)
    with torch.no_grad():
        ours.qkv.weight.copy_(mha.in_proj_weight)  # q, k, v stacked in the same order
        ours.qkv.bias.copy_(mha.in_proj_bias)
        ours.out.weight.copy_(mha.out_proj.weight)
        ours.out.bias.copy_(mha.out_proj.bias)
    return ours


@pytest.mark.parametrize("causal", [False, True])
def test_weights_equal_multihead_attention_per_head(causal):
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4, batch_first=True)
    ours = attention_from_mha(mha)
    x = torch.randn(3, 7, 16)
    mask = nn.Transformer.generate_square_subsequent_mask(7) if causal else None
    expected, expected_weights = mha(x, x, x, attn_mask=mask, need_weights=True, average_attn_weights=False)
    probe = AttentionProbe(causal=causal)
    out = ours(x, probe, layer=0)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(probe.weights[0], expected_weights, atol=1e-6, rtol=1e-5)  # (B, H, T, T)
    # the fused backend computes the same output without materialising the weights
    torch.testing.assert_close(ours(x, NoCache(causal=causal), layer=0), out, atol=1e-6, rtol=1e-5)


def test_grouped_kv_heads_are_repeated_to_the_query_heads():
    torch.manual_seed(1)
    attn = Attention(32, 8, n_kv_heads=2)
    x = torch.randn(2, 5, 32)
    probe = AttentionProbe()
    torch.testing.assert_close(attn(x, probe, 0), attn(x, NoCache(), 0), atol=1e-6, rtol=1e-5)
    assert probe.weights[0].shape == (2, 8, 5, 5)


def test_gpt_logits_unchanged_and_maps_are_causal_distributions():
    torch.manual_seed(2)
    model = GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=16, pos="rope")).eval()
    ids = torch.randint(0, 20, (9,))
    probe = AttentionProbe()
    with torch.no_grad():
        torch.testing.assert_close(model(ids[None], kv_cache=probe), model(ids[None]), atol=1e-5, rtol=1e-5)
    maps = attention_maps(model, ids)
    assert len(maps) == 2 and maps[0].shape == (2, 9, 9)
    for w in maps:
        torch.testing.assert_close(w.sum(-1), torch.ones(2, 9))
        assert torch.all(w.triu(1) == 0)  # nothing from the future


def test_report_writes_a_grid_per_layer_and_the_cli_drives_a_trained_run(tmp_path):
    from groundup.cli import main
    from groundup.train.config import make_config
    from groundup.train.trainer import train

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("to be or not to be, that is the question.\n" * 40)
    run = tmp_path / "run"
    train(make_config("tiny", data_path=str(corpus), max_iters=2, progress=False, threads=1), run)
    out = tmp_path / "viz"
    assert main(["viz", "attention", "to be or not", "--model", str(run), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["layer_00.png", "layer_01.png", "overview.png"]
    heads = json.loads((out / "heads.json").read_text())
    assert len(heads["tokens"]) == len("to be or not") and len(heads["heads"]) == 2 * 2
    assert (out / "layer_00.png").read_bytes()[:4] == b"\x89PNG"


def test_report_refuses_empty_text(tmp_path):
    from groundup.tokenizers.char import CharTokenizer

    model = GPT(GPTConfig(vocab_size=3, block_size=8, n_layer=1, n_head=1, n_embd=8))
    with pytest.raises(ValueError, match="no tokens"):
        write_attention_report(model, CharTokenizer("abc"), "", tmp_path, "tiny")
