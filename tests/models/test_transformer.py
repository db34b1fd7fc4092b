"""Transformer variants (0.5): blocks against torch's TransformerEncoderLayer/DecoderLayer with the same
weights, positions against their references, and the encoder-only / encoder-decoder models learning
small synthetic tasks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from groundup.models.layers import NoCache
from groundup.models.transformer import (
    Block,
    Embedding,
    EncoderClassifier,
    EncoderDecoder,
    TransformerConfig,
    sinusoidal_positions,
)

pytestmark = pytest.mark.module("0.5")


def copy_attention(theirs: nn.MultiheadAttention, q_w, q_b, kv_w, kv_b, mine_proj):
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([q_w, kv_w]))
        theirs.in_proj_bias.copy_(torch.cat([q_b, kv_b]))
        theirs.out_proj.weight.copy_(mine_proj.weight)
        theirs.out_proj.bias.copy_(mine_proj.bias)


def copy_linear_and_norms(pairs):
    with torch.no_grad():
        for mine, theirs in pairs:
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)


def perturbed_block(cfg, cross):
    torch.manual_seed(0)
    block = Block(cfg, cross=cross).eval()
    with torch.no_grad():
        for p in block.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return block


@pytest.mark.parametrize("norm", ["pre", "post"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_block_matches_torch_encoder_layer(norm, activation):
    cfg = TransformerConfig(n_embd=32, n_head=4, bias=True, norm=norm, activation=activation)
    block = perturbed_block(cfg, cross=False)
    ref = nn.TransformerEncoderLayer(
        32, 4, 128, 0.0, activation, batch_first=True, norm_first=norm == "pre"
    ).eval()
    q, kv = block.attn.qkv.weight.split([32, 64]), block.attn.qkv.bias.split([32, 64])
    copy_attention(ref.self_attn, q[0], kv[0], q[1], kv[1], block.attn.out)
    copy_linear_and_norms(
        [
            (block.mlp.fc, ref.linear1),
            (block.mlp.proj, ref.linear2),
            (block.ln_1, ref.norm1),
            (block.ln_2, ref.norm2),
        ]
    )
    x = torch.randn(3, 9, 32)
    with torch.no_grad():
        torch.testing.assert_close(block(x, NoCache(causal=False)), ref(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_decoder_block_matches_torch_decoder_layer(norm):
    cfg = TransformerConfig(n_embd=32, n_head=4, bias=True, norm=norm, activation="relu")
    block = perturbed_block(cfg, cross=True)
    ref = nn.TransformerDecoderLayer(
        32, 4, 128, 0.0, "relu", batch_first=True, norm_first=norm == "pre"
    ).eval()
    q, kv = block.attn.qkv.weight.split([32, 64]), block.attn.qkv.bias.split([32, 64])
    copy_attention(ref.self_attn, q[0], kv[0], q[1], kv[1], block.attn.out)
    ca = block.cross_attn
    copy_attention(ref.multihead_attn, ca.q.weight, ca.q.bias, ca.kv.weight, ca.kv.bias, ca.out)
    copy_linear_and_norms(
        [
            (block.mlp.fc, ref.linear1),
            (block.mlp.proj, ref.linear2),
            (block.ln_1, ref.norm1),
            (block.ln_cross, ref.norm2),
            (block.ln_2, ref.norm3),
        ]
    )
    tgt, memory = torch.randn(2, 7, 32), torch.randn(2, 11, 32)
    mask = nn.Transformer.generate_square_subsequent_mask(7)
    with torch.no_grad():
        ours = block(tgt, NoCache(causal=True), memory=memory)
        theirs = ref(tgt, memory, tgt_mask=mask, tgt_is_causal=True)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_sinusoidal_positions_match_the_paper_formula():
    T, d = 50, 16
    pe = np.zeros((T, d))
    for pos in range(T):
        for i in range(0, d, 2):
            pe[pos, i] = math.sin(pos / 10000 ** (i / d))
            pe[pos, i + 1] = math.cos(pos / 10000 ** (i / d))
    np.testing.assert_allclose(sinusoidal_positions(T, d).numpy(), pe, atol=1e-6)


def test_rotary_attention_matches_transformers_llama_rotary():
    """Self-attention with pos='rope' equals attention over q, k rotated by transformers' Llama RoPE."""
    llama = pytest.importorskip("transformers.models.llama.modeling_llama")
    from transformers import LlamaConfig

    cfg = TransformerConfig(block_size=12, n_embd=64, n_head=4, pos="rope")
    torch.manual_seed(0)
    embed, block = Embedding(cfg), Block(cfg).eval()
    x = torch.randn(2, 12, 64)
    q, k, v = (t.view(2, 12, 4, 16).transpose(1, 2) for t in block.attn.qkv(x).split(64, dim=2))
    rotary = llama.LlamaRotaryEmbedding(
        LlamaConfig(hidden_size=64, num_attention_heads=4, rope_theta=10000.0)
    )
    cos, sin = rotary(q, torch.arange(12)[None])
    q, k = llama.apply_rotary_pos_emb(q, k, cos, sin)
    scores = (q @ k.transpose(-1, -2) / 4.0).masked_fill(torch.ones(12, 12).triu(1).bool(), -torch.inf)
    expected = block.attn.out((scores.softmax(-1) @ v).transpose(1, 2).reshape(2, 12, 64))
    with torch.no_grad():
        ours = block.attn(x, NoCache(causal=True), 0, rope=embed.rope(torch.arange(12)))
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


def train_steps(model, batch_fn, loss_fn, steps, lr=3e-3):
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    for _ in range(steps):
        loss = loss_fn(model, *batch_fn())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def test_encoder_decoder_learns_sequence_reversal():
    """Reverse 6 digits: exact-match accuracy of greedy decoding on fresh sequences >= 95%."""
    torch.manual_seed(0)
    digits, length, bos = 10, 6, 10
    cfg = TransformerConfig(vocab_size=digits + 1, block_size=length + 1, n_layer=1, n_head=4, n_embd=48)
    model = EncoderDecoder(cfg)

    def batch(n=64):
        src = torch.randint(0, digits, (n, length))
        tgt = src.flip(1)
        tgt_in = torch.cat([torch.full((n, 1), bos), tgt[:, :-1]], dim=1)  # teacher forcing
        return src, tgt_in, tgt

    def loss_fn(m, src, tgt_in, tgt):
        return nn.functional.cross_entropy(m(src, tgt_in).reshape(-1, cfg.vocab_size), tgt.reshape(-1))

    train_steps(model, batch, loss_fn, steps=150)
    src, _, tgt = batch(500)
    exact = (model.greedy_decode(src, length, bos) == tgt).all(dim=1).float().mean().item()
    assert exact >= 0.95, exact


def test_encoder_classifier_learns_majority_token():
    """Which of tokens 0 and 1 is more frequent in a sequence of 0s and 1s: accuracy >= 95%."""
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=2, block_size=15, n_layer=1, n_head=2, n_embd=32)
    model = EncoderClassifier(cfg, n_classes=2)

    def batch(n=64):
        x = torch.randint(0, 2, (n, 15))
        return x, (x.sum(dim=1) > 7).long()

    train_steps(model, batch, lambda m, x, y: nn.functional.cross_entropy(m(x), y), steps=150)
    x, y = batch(1000)
    with torch.no_grad():
        accuracy = (model(x).argmax(-1) == y).float().mean().item()
    assert accuracy >= 0.95, accuracy


def test_encoder_is_bidirectional():
    """Unlike GPT, an encoder's first position sees the last token."""
    model = EncoderClassifier(
        TransformerConfig(vocab_size=5, block_size=6, n_layer=1, n_head=1, n_embd=8), 3
    ).eval()
    embed_then_block = lambda idx: model.blocks[0](model.embed(idx), NoCache(causal=False))  # noqa: E731
    a = torch.tensor([[0, 1, 2, 3, 4, 0]])
    b = torch.tensor([[0, 1, 2, 3, 4, 1]])
    with torch.no_grad():
        assert not torch.allclose(embed_then_block(a)[:, 0], embed_then_block(b)[:, 0])
