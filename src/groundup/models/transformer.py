"""The "Attention Is All You Need" family, built from the shared blocks of `layers.py` (curriculum 0.5).

One `Block` serves all three kinds of descendants:
- decoder-only (GPT, in `gpt.py`): causal self-attention + MLP;
- encoder-only (`EncoderClassifier`, BERT-like): bidirectional self-attention + MLP, a pooled head;
- encoder-decoder (`EncoderDecoder`, the original Transformer): the decoder block adds cross-attention
  whose queries come from the decoder and keys/values from the encoder output.

Norm placement is a switch: post-norm (`x = norm(x + f(x))`, Vaswani et al. 2017) or pre-norm
(`x = x + f(norm(x))`, GPT-2), which trains stably without a long warmup. Positions: a learned table,
fixed sinusoids, or rotary (the Llama model's `layers.RotaryEmbedding`). Whether attention is causal
is the attention backend's business: `NoCache()` (causal), `NoCache(causal=False)` (encoders), or a
KV cache when GPT generates. Tests copy these weights into `torch.nn.TransformerEncoderLayer` /
`TransformerDecoderLayer` and `transformers.GPT2LMHeadModel` and compare.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from groundup.models.layers import (
    ACTIVATIONS,
    MLP,
    Attention,
    CrossAttention,
    KVCache,
    NoCache,
    RotaryEmbedding,
    sinusoidal_positions,
)

NORMS = ("pre", "post")
POSITIONS = ("learned", "sinusoidal", "rope")

__all__ = ["Block", "Embedding", "EncoderClassifier", "EncoderDecoder", "TransformerConfig"]
__all__ += ["init_weights", "sinusoidal_positions"]


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
    norm_eps: float = 1e-5  # LayerNorm epsilon (BERT checkpoints: 1e-12)
    type_vocab_size: int = 0  # > 0: a learned token-type (segment) embedding is added (BERT: 2)
    embed_norm: bool = False  # LayerNorm on the summed embeddings, before dropout (BERT)

    def __post_init__(self):
        for name, value, allowed in (
            ("norm", self.norm, NORMS),
            ("pos", self.pos, POSITIONS),
            ("activation", self.activation, tuple(ACTIVATIONS)),
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


class Embedding(nn.Module):
    """Token embedding plus positions: a learned table or fixed sinusoids added here; rotary positions
    are applied inside attention instead, from the tables `rope` returns. BERT adds a token-type
    (segment) embedding and normalises the sum (`type_vocab_size`, `embed_norm`)."""

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
        if cfg.type_vocab_size:
            self.wtt = nn.Embedding(cfg.type_vocab_size, cfg.n_embd)
        self.ln = nn.LayerNorm(cfg.n_embd, eps=cfg.norm_eps) if cfg.embed_norm else nn.Identity()
        self.drop = nn.Dropout(cfg.dropout)

    def forward(
        self,
        idx: torch.Tensor,
        positions: torch.Tensor | None = None,
        token_types: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """idx (..., T), positions (T,) or (..., T) (default 0..T-1), token_types (..., T) (default 0,
        used only with `type_vocab_size`) -> (..., T, C)."""
        if positions is None:
            positions = self.positions(idx.shape[-1])
        x = self.wte(idx)  # (..., T, C)
        if self.cfg.pos == "learned":
            x = x + self.wpe(positions)
        elif self.cfg.pos == "sinusoidal":
            x = x + self.pe[positions]
        if self.cfg.type_vocab_size:
            x = x + (self.wtt(token_types) if token_types is not None else self.wtt.weight[0])
        return self.drop(self.ln(x))

    def positions(self, T: int) -> torch.Tensor:
        """0..T-1, refusing sequences longer than the position table."""
        if T > self.cfg.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size {self.cfg.block_size}")
        return torch.arange(T, device=self.wte.weight.device)

    def rope(self, positions: torch.Tensor):
        """(cos, sin) for rotary positions, each (..., T, 1, hs); None for the other encodings."""
        return self.rotary(positions) if self.cfg.pos == "rope" else None


class Block(nn.Module):
    """Self-attention, optional cross-attention, MLP; each a residual sublayer with pre- or post-norm."""

    def __init__(self, cfg: TransformerConfig, *, cross: bool = False):
        super().__init__()
        dim = cfg.n_embd
        self.pre_norm = cfg.norm == "pre"
        self.ln_1 = nn.LayerNorm(dim, eps=cfg.norm_eps, bias=cfg.bias)
        self.attn = Attention(dim, cfg.n_head, bias=cfg.bias, dropout=cfg.dropout)
        if cross:
            self.ln_cross = nn.LayerNorm(dim, eps=cfg.norm_eps, bias=cfg.bias)
            self.cross_attn = CrossAttention(dim, cfg.n_head, bias=cfg.bias, dropout=cfg.dropout)
        self.ln_2 = nn.LayerNorm(dim, eps=cfg.norm_eps, bias=cfg.bias)
        self.mlp = MLP(dim, cfg.mlp_ratio * dim, cfg.activation, bias=cfg.bias, dropout=cfg.dropout)

    def forward(self, x, kv_cache: KVCache | None = None, layer: int = 0, rope=None, memory=None):
        """x (..., T, C) -> (..., T, C). `kv_cache` decides what each token attends to (default:
        causal over these T tokens); `memory` (B, S, C) is the encoder output for cross-attention."""
        kv_cache = NoCache() if kv_cache is None else kv_cache
        if self.pre_norm:
            x = x + self.attn(self.ln_1(x), kv_cache, layer, rope)
            if memory is not None:
                x = x + self.cross_attn(self.ln_cross(x), memory)
            return x + self.mlp(self.ln_2(x))
        x = self.ln_1(x + self.attn(x, kv_cache, layer, rope))
        if memory is not None:
            x = self.ln_cross(x + self.cross_attn(x, memory))
        return self.ln_2(x + self.mlp(x))


def init_weights(model: nn.Module, n_layer: int) -> None:
    """GPT-2 initialisation: N(0, 0.02) for weights, zero biases, and the projections that write into
    the residual stream (attention `out`, MLP `proj`) scaled by 1/sqrt(2 * n_layer) so the stream's
    variance does not grow with depth."""
    for name, p in model.named_parameters():
        if name.endswith(("out.weight", "proj.weight")):
            nn.init.normal_(p, std=0.02 / math.sqrt(2 * n_layer))
        elif p.dim() >= 2:
            nn.init.normal_(p, std=0.02)
        elif name.endswith("bias"):
            nn.init.zeros_(p)


def final_norm(cfg: TransformerConfig) -> nn.Module:
    """Pre-norm leaves the residual stream un-normalised, so a last LayerNorm follows the blocks;
    post-norm blocks already end in one."""
    return nn.LayerNorm(cfg.n_embd, eps=cfg.norm_eps, bias=cfg.bias) if cfg.norm == "pre" else nn.Identity()


class EncoderClassifier(nn.Module):
    """Encoder-only Transformer with a classification head on the mean of the final states.

    forward(idx (B, T)) -> class logits (B, n_classes).
    """

    def __init__(self, cfg: TransformerConfig, n_classes: int):
        super().__init__()
        self.cfg = cfg
        self.embed = Embedding(cfg)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = final_norm(cfg)
        self.head = nn.Linear(cfg.n_embd, n_classes)
        init_weights(self, cfg.n_layer)

    def forward(self, idx):
        positions = self.embed.positions(idx.shape[1])
        x, rope = self.embed(idx, positions), self.embed.rope(positions)
        attention = NoCache(causal=False, dropout=self.cfg.dropout if self.training else 0.0)
        for layer, block in enumerate(self.blocks):
            x = block(x, attention, layer, rope)  # (B, T, C): every token sees every token
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
        self.ln_enc, self.ln_dec = final_norm(cfg), final_norm(cfg)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        init_weights(self, 2 * cfg.n_layer)

    def _attention(self, causal: bool) -> NoCache:
        return NoCache(causal=causal, dropout=self.cfg.dropout if self.training else 0.0)

    def encode(self, src):
        positions = self.src_embed.positions(src.shape[1])
        x, rope = self.src_embed(src, positions), self.src_embed.rope(positions)
        attention = self._attention(causal=False)
        for layer, block in enumerate(self.encoder):
            x = block(x, attention, layer, rope)
        return self.ln_enc(x)  # (B, S, C)

    def decode(self, tgt_in, memory):
        positions = self.tgt_embed.positions(tgt_in.shape[1])
        x, rope = self.tgt_embed(tgt_in, positions), self.tgt_embed.rope(positions)
        attention = self._attention(causal=True)
        for layer, block in enumerate(self.decoder):
            x = block(x, attention, layer, rope, memory=memory)
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
