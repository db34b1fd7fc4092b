"""The RNN encoder-decoder with attention (Bahdanau et al. 2015; Luong et al. 2015), curriculum 0.4.

A bidirectional GRU (or LSTM/RNN) encodes the source into one state per source token, the *memory*
(B, S, 2H). The decoder is a recurrent cell that writes the target one token at a time. Without
attention it sees the source only through its initial state, a fixed-size bottleneck; with attention
it reads, at every step t, a context vector c_t = sum_j a_tj m_j, a weighted mean of the memory whose
weights a_t = softmax(score(query_t, m_j)) over the real (unpadded) source positions say where it looks.

    additive (Bahdanau):        score(s, m) = v^T tanh(W_s s + W_m m)   query = s_{t-1} (before the step)
                                s_t = cell([emb(y_{t-1}); c_t], s_{t-1});  logits = W_o [s_t; c_t; emb(y_{t-1})]
    multiplicative (Luong):     score(s, m) = s^T W m  ("general")         query = s_t (after the step)
                                s_t = cell([emb(y_{t-1}); h~_{t-1}], s_{t-1});  h~_t = tanh(W_c [c_t; s_t])
                                logits = W_o h~_t   (h~ is fed to the next step: "input feeding")

The weights of every step are returned with the logits, so a trained model draws its alignment.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from groundup.models.rnn import GATES, RecurrentEncoder, RecurrentLayer

ATTENTIONS = ("bahdanau", "luong", "none")


@dataclass
class Seq2SeqConfig:
    src_vocab: int
    tgt_vocab: int
    n_embd: int = 32
    n_hidden: int = 64
    attention: str = "bahdanau"
    kind: str = "gru"

    def __post_init__(self):
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, got {self.attention!r}")
        if self.kind not in GATES:
            raise ValueError(f"kind must be one of {', '.join(GATES)}, got {self.kind!r}")
        for name in ("src_vocab", "tgt_vocab", "n_embd", "n_hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """softmax over the last axis with padded positions (mask False) at weight 0."""
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1)


class AdditiveAttention(nn.Module):
    """Bahdanau's score v^T tanh(W_q q + W_m m): a one-hidden-layer net compares query and memory."""

    def __init__(self, query_dim: int, memory_dim: int, attn_dim: int):
        super().__init__()
        self.w_query = nn.Linear(query_dim, attn_dim, bias=False)
        self.w_memory = nn.Linear(memory_dim, attn_dim)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def keys(self, memory):
        """The query-independent half, computed once per source: (B, S, M) -> (B, S, A)."""
        return self.w_memory(memory)

    def forward(self, query, keys, memory, mask=None):
        """query (B, Q) -> (context (B, M), weights (B, S))."""
        scores = self.v(torch.tanh(keys + self.w_query(query)[:, None])).squeeze(-1)  # (B, S)
        weights = masked_softmax(scores, mask)
        return (weights[:, None] @ memory).squeeze(1), weights


class MultiplicativeAttention(nn.Module):
    """Luong's "general" score q^T W m: one bilinear form, cheaper than the additive net."""

    def __init__(self, query_dim: int, memory_dim: int):
        super().__init__()
        self.w = nn.Linear(memory_dim, query_dim, bias=False)

    def keys(self, memory):
        return self.w(memory)  # (B, S, Q)

    def forward(self, query, keys, memory, mask=None):
        scores = (keys @ query[:, :, None]).squeeze(-1)  # (B, S)
        weights = masked_softmax(scores, mask)
        return (weights[:, None] @ memory).squeeze(1), weights


class Seq2Seq(nn.Module):
    """forward(src (B, S), src_mask (B, S), tgt_in (B, T)) -> (logits (B, T, V), weights (B, T, S)).

    Teacher forcing: tgt_in is the target shifted right behind a BOS token. `greedy` decodes.
    """

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.cfg = cfg
        E, H = cfg.n_embd, cfg.n_hidden
        self.src_embed = nn.Embedding(cfg.src_vocab, E)
        self.tgt_embed = nn.Embedding(cfg.tgt_vocab, E)
        self.encoder = RecurrentEncoder(cfg.kind, E, H, bidirectional=True)
        self.bridge = nn.Linear(2 * H, H)  # [forward last; backward first] -> the decoder's first state
        feed = {"bahdanau": 2 * H, "luong": H, "none": 0}[cfg.attention]
        self.decoder = RecurrentLayer(cfg.kind, E + feed, H)
        if cfg.attention == "bahdanau":
            self.attn = AdditiveAttention(H, 2 * H, H)
            self.out = nn.Linear(H + 2 * H + E, cfg.tgt_vocab)
        elif cfg.attention == "luong":
            self.attn = MultiplicativeAttention(H, 2 * H)
            self.combine = nn.Linear(2 * H + H, H, bias=False)
            self.out = nn.Linear(H, cfg.tgt_vocab)
        else:
            self.out = nn.Linear(H, cfg.tgt_vocab)

    def encode(self, src, src_mask):
        """-> memory (B, S, 2H), the decoder's first state (h, c), the attention keys."""
        memory, finals = self.encoder(self.src_embed(src), src_mask)
        h0 = torch.tanh(self.bridge(torch.cat([finals[0][0], finals[1][0]], dim=-1)))  # (B, H)
        keys = self.attn.keys(memory) if self.cfg.attention != "none" else None
        return memory, (h0, torch.zeros_like(h0)), keys

    def step(self, y_prev, state, feed, memory, keys, src_mask):
        """One decoder step from the previous target token y_prev (B,) -> (logits, state, feed, weights)."""
        emb = self.tgt_embed(y_prev)  # (B, E)
        kind, H = self.cfg.attention, self.cfg.n_hidden
        weights = None
        if kind == "bahdanau":
            context, weights = self.attn(state[0], keys, memory, src_mask)  # query: the state before
            state = self.decoder.cell(self._input(torch.cat([emb, context], -1)), state)
            logits = self.out(torch.cat([state[0], context, emb], -1))
        elif kind == "luong":
            state = self.decoder.cell(self._input(torch.cat([emb, feed], -1)), state)
            context, weights = self.attn(state[0], keys, memory, src_mask)  # query: the state after
            feed = torch.tanh(self.combine(torch.cat([context, state[0]], -1)))  # (B, H)
            logits = self.out(feed)
        else:
            state = self.decoder.cell(self._input(emb), state)
            logits = self.out(state[0])
        if feed is None:
            feed = emb.new_zeros(emb.shape[0], H)
        return logits, state, feed, weights

    def _input(self, x):
        return F.linear(x, self.decoder.weight_ih, self.decoder.bias_ih)  # (B, gH)

    def forward(self, src, src_mask, tgt_in):
        memory, state, keys = self.encode(src, src_mask)
        feed = memory.new_zeros(src.shape[0], self.cfg.n_hidden)
        logits, weights = [], []
        for t in range(tgt_in.shape[1]):
            step_logits, state, feed, w = self.step(tgt_in[:, t], state, feed, memory, keys, src_mask)
            logits.append(step_logits)
            weights.append(w if w is not None else memory.new_zeros(memory.shape[:2]))
        return torch.stack(logits, 1), torch.stack(weights, 1)  # (B, T, V), (B, T, S)

    @torch.no_grad()
    def greedy(self, src, src_mask, length: int, bos: int):
        """(tokens (B, length), weights (B, length, S)): argmax at every step, from `bos`."""
        memory, state, keys = self.encode(src, src_mask)
        feed = memory.new_zeros(src.shape[0], self.cfg.n_hidden)
        y = torch.full((src.shape[0],), bos, dtype=torch.long, device=src.device)
        tokens, weights = [], []
        for _ in range(length):
            logits, state, feed, w = self.step(y, state, feed, memory, keys, src_mask)
            y = logits.argmax(-1)
            tokens.append(y)
            weights.append(w if w is not None else memory.new_zeros(memory.shape[:2]))
        return torch.stack(tokens, 1), torch.stack(weights, 1)
