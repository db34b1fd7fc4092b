"""Transformer blocks and the two non-GPT variants built from them (curriculum 0.5).

One `Block` serves all three families of "Attention Is All You Need" descendants:
- decoder-only (GPT, in `gpt.py`): causal self-attention + MLP;
- encoder-only (`EncoderClassifier`, BERT-like): bidirectional self-attention + MLP, a pooled head;
- encoder-decoder (`EncoderDecoder`, the original Transformer): the decoder block adds cross-attention
  whose queries come from the decoder and keys/values from the encoder output.

Norm placement is a switch: post-norm (`x = norm(x + f(x))`, Vaswani et al. 2017) or pre-norm
(`x = x + f(norm(x))`, GPT-2), which trains stably without a long warmup. Positions: a learned table,
fixed sinusoids, or rotary (the shared `layers.RotaryEmbedding` of the Llama model). Attention goes through
`torch.nn.functional.scaled_dot_product_attention`, which picks a fused kernel where one exists.
Tests copy these weights into `torch.nn.TransformerEncoderLayer`/`TransformerDecoderLayer` and compare.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from groundup.models.layers import RotaryEmbedding, apply_rotary

NORMS = ("pre", "post")
POSITIONS = ("learned", "sinusoidal", "rope")
ACTIVATIONS = ("gelu", "gelu_tanh", "relu")


@dataclass
class TransformerConfig:
    """Shape and options of a Transformer; every module receives this object."""

    vocab_size: int = 65
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True
    norm: str = "pre"
    pos: str = "learned"
    activation: str = "gelu"
    tie_weights: bool = True
    mlp_ratio: int = 4

    def __post_init__(self):
        for name, value, allowed in (
            ("norm", self.norm, NORMS),
            ("pos", self.pos, POSITIONS),
            ("activation", self.activation, ACTIVATIONS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.pos == "rope" and (self.n_embd // self.n_head) % 2:
            raise ValueError(f"rope needs an even head size, got {self.n_embd // self.n_head}")

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """Fixed positions of Vaswani et al.: PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(same)."""
    position = torch.arange(length, dtype=torch.float64)[:, None]  # (T, 1)
    inv_freq = 10000.0 ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (d/2,)
    angles = position * inv_freq  # (T, d/2)
    pe = torch.zeros(length, dim, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : dim // 2])
    return pe.float()


class Attention(nn.Module):
    """Multi-head attention. Self-attention projects q, k, v with one fused matrix (GPT-2 layout);
    cross-attention (`cross=True`) takes queries from x and keys/values from `memory`."""

    def __init__(self, cfg: TransformerConfig, *, cross: bool = False):
        super().__init__()
        self.n_head, self.cross = cfg.n_head, cross
        if cross:
            self.q = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
            self.kv = nn.Linear(cfg.n_embd, 2 * cfg.n_embd, bias=cfg.bias)
        else:
            self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = cfg.dropout
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x, *, causal: bool, memory=None, rope=None):
        B, T, C = x.shape
        if self.cross:
            q = self.q(x)  # (B, T, C)
            k, v = self.kv(memory).split(C, dim=2)  # (B, S, C) each
        else:
            q, k, v = self.qkv(x).split(C, dim=2)  # (B, T, C) each
        q, k, v = (t.view(B, -1, self.n_head, C // self.n_head) for t in (q, k, v))  # (B, T, nh, hs)
        if rope is not None:  # rotary positions turn queries and keys only (shared Llama block)
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        dropout = self.dropout if self.training else 0.0
        if x.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            # Under CPU bf16 autocast, SDPA would run its bf16 flash kernel, whose backward is ~10x
            # slower than the fp32 one (torch 2.13, AVX-512); attention is a small share of the FLOPs,
            # so it runs in fp32 (also the more accurate choice) and the projections stay in bf16.
            with torch.autocast("cpu", enabled=False):
                y = F.scaled_dot_product_attention(
                    q.float(), k.float(), v.float(), dropout_p=dropout, is_causal=causal
                )
        else:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=causal)  # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.resid_dropout(self.proj(y))


class MLP(nn.Module):
    """Position-wise feed-forward: Linear(C, rC) -> GELU/ReLU -> Linear(rC, C)."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.fc = nn.Linear(cfg.n_embd, cfg.mlp_ratio * cfg.n_embd, bias=cfg.bias)
        self.act = {
            "gelu": nn.GELU(),
            "gelu_tanh": nn.GELU(approximate="tanh"),  # GPT-2's original approximation
            "relu": nn.ReLU(),
        }[cfg.activation]
        self.proj = nn.Linear(cfg.mlp_ratio * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):
        return self.dropout(self.proj(self.act(self.fc(x))))


class Block(nn.Module):
    """Self-attention, optional cross-attention, MLP; each a residual sublayer with pre- or post-norm."""

    def __init__(self, cfg: TransformerConfig, *, cross: bool = False):
        super().__init__()
        self.pre_norm = cfg.norm == "pre"
        self.ln_1 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn = Attention(cfg)
        if cross:
            self.ln_cross = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
            self.cross_attn = Attention(cfg, cross=True)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def sublayer(self, x, norm, fn):
        return x + fn(norm(x)) if self.pre_norm else norm(x + fn(x))

    def forward(self, x, *, causal: bool, memory=None, rope=None):
        x = self.sublayer(x, self.ln_1, lambda h: self.attn(h, causal=causal, rope=rope))
        if memory is not None:
            x = self.sublayer(x, self.ln_cross, lambda h: self.cross_attn(h, causal=False, memory=memory))
        return self.sublayer(x, self.ln_2, self.mlp)


class Embedding(nn.Module):
    """Token embedding plus positions: learned table, fixed sinusoids, or none here for rope (rotary
    positions are applied inside attention and returned by `rope`)."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        if cfg.pos == "learned":
            self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        elif cfg.pos == "sinusoidal":
            self.register_buffer("pe", sinusoidal_positions(cfg.block_size, cfg.n_embd), persistent=False)
        else:
            self.rotary = RotaryEmbedding(cfg.head_size, cfg.block_size)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, idx):
        T = idx.shape[1]
        if T > self.cfg.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size {self.cfg.block_size}")
        x = self.wte(idx)  # (B, T, C)
        if self.cfg.pos == "learned":
            x = x + self.wpe(torch.arange(T, device=idx.device))
        elif self.cfg.pos == "sinusoidal":
            x = x + self.pe[:T]
        return self.drop(x)

    def rope(self, T: int):
        """(cos, sin), each (T, 1, hs), for rotary positions; None for the other encodings."""
        return self.rotary(torch.arange(T, device=self.wte.weight.device)) if self.cfg.pos == "rope" else None


def init_weights(model: nn.Module, n_layer: int) -> None:
    """GPT-2 initialisation: N(0, 0.02) for weights, zero biases, and residual projections scaled by
    1/sqrt(2 * n_layer) so the residual stream's variance does not grow with depth."""
    for name, p in model.named_parameters():
        if name.endswith("proj.weight"):
            nn.init.normal_(p, std=0.02 / math.sqrt(2 * n_layer))
        elif p.dim() >= 2:
            nn.init.normal_(p, std=0.02)
        elif name.endswith("bias"):
            nn.init.zeros_(p)


class EncoderClassifier(nn.Module):
    """Encoder-only Transformer with a classification head on the mean of the final states.

    forward(idx (B, T)) -> class logits (B, n_classes).
    """

    def __init__(self, cfg: TransformerConfig, n_classes: int):
        super().__init__()
        self.cfg = cfg
        self.embed = Embedding(cfg)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd, bias=cfg.bias) if cfg.norm == "pre" else nn.Identity()
        self.head = nn.Linear(cfg.n_embd, n_classes)
        init_weights(self, cfg.n_layer)

    def forward(self, idx):
        x, rope = self.embed(idx), self.embed.rope(idx.shape[1])
        for block in self.blocks:
            x = block(x, causal=False, rope=rope)  # (B, T, C): every token sees every token
        return self.head(self.ln_f(x).mean(dim=1))  # (B, n_classes)


class EncoderDecoder(nn.Module):
    """The original sequence-to-sequence Transformer: encoder blocks, then decoder blocks with causal
    self-attention and cross-attention over the encoder output; both sides share one vocabulary.

    forward(src (B, S), tgt_in (B, T)) -> logits (B, T, vocab) for the next target token.
    """

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        self.src_embed, self.tgt_embed = Embedding(cfg), Embedding(cfg)
        self.encoder = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.decoder = nn.ModuleList(Block(cfg, cross=True) for _ in range(cfg.n_layer))
        pre = cfg.norm == "pre"
        self.ln_enc = nn.LayerNorm(cfg.n_embd, bias=cfg.bias) if pre else nn.Identity()
        self.ln_dec = nn.LayerNorm(cfg.n_embd, bias=cfg.bias) if pre else nn.Identity()
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        init_weights(self, 2 * cfg.n_layer)

    def encode(self, src):
        x, rope = self.src_embed(src), self.src_embed.rope(src.shape[1])
        for block in self.encoder:
            x = block(x, causal=False, rope=rope)
        return self.ln_enc(x)  # (B, S, C)

    def decode(self, tgt_in, memory):
        x, rope = self.tgt_embed(tgt_in), self.tgt_embed.rope(tgt_in.shape[1])
        for block in self.decoder:
            x = block(x, causal=True, memory=memory, rope=rope)
        return self.lm_head(self.ln_dec(x))  # (B, T, vocab)

    def forward(self, src, tgt_in):
        return self.decode(tgt_in, self.encode(src))

    @torch.no_grad()
    def greedy_decode(self, src, length: int, bos: int):
        """Target tokens (B, length) chosen one at a time by argmax, starting from `bos`."""
        memory = self.encode(src)
        out = torch.full((src.shape[0], 1), bos, dtype=torch.long, device=src.device)
        for _ in range(length):
            next_id = self.decode(out, memory)[:, -1].argmax(-1, keepdim=True)  # (B, 1)
            out = torch.cat([out, next_id], dim=1)
        return out[:, 1:]
